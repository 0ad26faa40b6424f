'use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  const T = LG.text;
  const bannerEl = $('banner'), bannerText = bannerEl.querySelector('.text'), listEl = $('danmaku'), connEl = $('conn');
  // OBS mode (no preview=1): the page is on air. It never paints an error: a missing or refused
  // token leaves it transparent, retrying, with the reason in the page's own console log.
  const isPreview = LG.params.has('preview');
  if (isPreview) document.documentElement.classList.add('preview');
  const MAX_LINES = 8, LINE_SECONDS = 30;
  let featured = null;
  const banners = new Map();       // sku -> latest banner message
  window.__lgOverlay = { banners };

  function renderBanner() {
    const b = featured && banners.get(featured);
    const show = !!(b && !b.withdrawn && b.text);
    bannerEl.classList.toggle('show', show);
    if (show) {
      LG.setLevelClass(bannerEl, LG.LEVELS.includes(b.level) ? b.level : 'threshold');
      T(bannerText, b.text);
      bannerEl.dataset.sku = b.sku;
      bannerEl.dataset.left = typeof b.left === 'number' ? String(b.left) : '';
    } else {
      bannerEl.dataset.sku = '';
    }
  }

  function addDanmaku(m) {
    const h = LG.h;
    const system = m.system === true;
    const li = h('li', 'dm' + (system ? ' system' : '') + (m.role === 'host' ? ' host' : ''));
    li.dataset.system = String(system);
    li.append(h('span', 'from', system ? '系统' : (m.from || '观众')), h('span', 'text', m.text || ''));
    listEl.append(li);
    while (listEl.children.length > MAX_LINES) listEl.firstChild.remove();
    setTimeout(() => { li.classList.add('old'); setTimeout(() => li.remove(), 1200); }, LINE_SECONDS * 1000);
  }

  function onSnapshot(m) {
    featured = m.featured || null;
    // A fresh snapshot (new connection, restarted server): banners from before may be stale,
    // and the overlay never shows a scarcity claim the server is not making now; the server
    // lists the banners standing now (a late joiner shows what every viewer sees).
    banners.clear();
    for (const b of (Array.isArray(m.banners) ? m.banners : [])) {
      if (b && b.sku && typeof b.text === 'string') banners.set(b.sku, Object.assign({ withdrawn: false }, b));
    }
    LG.schedule('banner', renderBanner);
  }
  function onMessage(m) {
    switch (m.type) {
      case 'featured': featured = m.sku; LG.schedule('banner', renderBanner); break;
      case 'banner': if (m.sku) { banners.set(m.sku, m); LG.schedule('banner', renderBanner); } break;
      case 'danmaku': addDanmaku(m); break;
      default: break;
    }
  }
  LG.connect({
    onSnapshot, onMessage, retryRefused: !isPreview,
    onState(state, detail) {
      LG.renderConn(connEl, state, detail);
      if (state !== 'notoken' && state !== 'refused') return;
      if (isPreview) LG.showBlocked(state, detail, 'viewer');
      else if (state === 'notoken') console.warn('livegate overlay: no token in the page URL; nothing is shown on air');
    },
  });
})();