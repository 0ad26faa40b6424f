'use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  const T = LG.text;
  const promptsEl = $('prompts'), connEl = $('conn');
  const skus = new Map();          // sku -> data
  const hints = new Map();         // sku -> { msg, fresh }
  let featured = [];
  const views = new Map();         // sku -> view
  const LEVEL_WORD = { trend: '热卖中 SELLING FAST', threshold: '库存紧张 LOW', emergency: '快没了 ALMOST GONE', soldout: '售罄 SOLD OUT' };
  window.__lgHost = { skus, hints };

  function makeView(sku) {
    const h = LG.h;
    const el = h('section', 'prompt');
    el.dataset.sku = sku;
    const name = h('div', 'name', sku);
    const label = h('div', 'label', '还能卖 can sell');
    const line = h('div', 'figure-line');
    const figure = h('div', 'figure', '—');
    const unit = h('div', 'unit', '件');
    const levelword = h('div', 'levelword', '');
    line.append(figure, unit, levelword);
    const may = h('div', 'may', '');
    const hint = h('div', 'hint', '');
    const sub = h('div', 'sub');
    const arrow = h('span', 'arrow', '换推 →'), subName = h('span', 'subname', ''), subLeft = h('span', 'left', '');
    sub.append(arrow, subName, subLeft);
    const middle = h('div', 'middle');
    middle.append(label, line, may, hint);
    el.append(name, middle, sub);
    return { el, name, figure, levelword, may, hint, sub, subName, subLeft };
  }

  function render() {
    const list = featured.filter((s) => skus.has(s));
    // (Re)build the views only when the featured set changes.
    const want = list.join('\n');
    if (promptsEl.dataset.set !== want) {
      promptsEl.dataset.set = want;
      promptsEl.textContent = '';
      views.clear();
      if (!list.length) promptsEl.append(LG.h('div', 'waiting', featured.length ? 'featured SKU not in this room' : 'nothing featured yet'));
      for (const sku of list) { const v = makeView(sku); views.set(sku, v); promptsEl.append(v.el); }
      promptsEl.classList.toggle('many', list.length > 1);
    }
    for (const [sku, v] of views) {
      const d = skus.get(sku);
      const hint = hints.get(sku);
      const level = LG.levelOf(d);
      const useHint = hint && hint.fresh && typeof hint.msg.canSell === 'number';
      const canSell = useHint ? hint.msg.canSell : d.sellable;
      let cls = 'prompt lv-' + level;
      const sub = d.substitute && skus.get(d.substitute);
      if ((level === 'emergency' || level === 'soldout') && d.substitute) cls += ' pitch-sub';
      if (d.paused) cls += ' paused';
      if (v.el.className !== cls) v.el.className = cls;
      T(v.name, d.name || sku);
      const shown = LG.fmtInt(canSell);
      T(v.figure, shown);
      // The figure's size follows its length, so 7 digits still fit beside the level badge.
      if (v.figure.style.getPropertyValue('--chars') !== String(shown.length)) v.figure.style.setProperty('--chars', String(shown.length));
      v.figure.dataset.value = String(canSell);
      v.figure.dataset.level = level;
      T(v.levelword, d.paused ? '暂停 PAUSED' : (LEVEL_WORD[level] || ''));
      const mayFree = useHint && typeof hint.msg.mayFreeUp === 'number' && hint.msg.mayFreeUp > 0 ? hint.msg.mayFreeUp : 0;
      const within = useHint && typeof hint.msg.mayFreeUpWithinSec === 'number' ? ' within ' + LG.fmtEta(hint.msg.mayFreeUpWithinSec) : '';
      T(v.may, mayFree ? '+' + LG.fmtInt(mayFree) + ' may free up' + within + ' (unpaid orders)' : '');
      // The hint text stays while its level is current.
      const hintText = hint && (hint.fresh || hint.msg.level === undefined || hint.msg.level === level) ? (hint.msg.text || '') : '';
      T(v.hint, hintText);
      T(v.subName, sub ? (sub.name || d.substitute) : (d.substitute || ''));
      T(v.subLeft, sub && typeof sub.sellable === 'number' ? '还有 ' + LG.fmtInt(sub.sellable) + ' 件' : '');
    }
  }
  const later = () => LG.schedule('render', render);

  function onSnapshot(m) {
    skus.clear();
    for (const s of (Array.isArray(m.skus) ? m.skus : [])) skus.set(s.sku, Object.assign({}, s));
    featured = Array.isArray(m.featured) ? m.featured.slice() : (m.featured ? [m.featured] : []);
    for (const h of hints.values()) h.fresh = false;
    later();
  }
  function onMessage(m) {
    switch (m.type) {
      case 'stock': {
        const d = skus.get(m.sku) || { sku: m.sku };
        for (const k of ['name', 'sellable', 'onHand', 'reserved', 'held', 'sold', 'paused', 'level', 'ratePerMin', 'etaSec', 'substitute']) {
          if (k in m) d[k] = m[k];
        }
        skus.set(m.sku, d);
        const h = hints.get(m.sku);
        if (h) h.fresh = false;      // a newer stock figure than the hint's
        later();
        break;
      }
      case 'featured':
        featured = Array.isArray(m.sku) ? m.sku.slice() : [m.sku];
        later();
        break;
      case 'hint':
        if (m.sku) { hints.set(m.sku, { msg: m, fresh: true }); later(); }
        break;
      default:
        break;
    }
  }
  // A teleprompter can be captured as an OBS source too: without preview=1 it never paints a
  // full-screen error; the status pill says "token refused" while it retries, and the page's
  // console log says why. With preview=1 it explains the problem in plain words.
  const isPreview = LG.params.has('preview');
  LG.connect({
    onSnapshot, onMessage, retryRefused: !isPreview,
    onState(state, detail) {
      LG.renderConn(connEl, state, detail);
      if (state !== 'notoken' && state !== 'refused') return;
      if (isPreview) LG.showBlocked(state, detail, 'host');
      else if (state === 'notoken') console.warn('livegate host: no token in the page URL (add ?token=…)');
    },
  });
})();