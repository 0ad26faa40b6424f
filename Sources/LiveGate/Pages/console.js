'use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  const rowsEl = $('sku-rows'), connEl = $('conn'), skuSel = $('cmd-sku'), qtyIn = $('cmd-qty'), annIn = $('ann-text');
  const logEl = $('cmd-log'), feedEl = $('alert-feed'), subBtn = $('sub-btn');
  const T = LG.text;
  if (LG.claims) {
    T($('who'), (LG.claims.role || '?') + ' · ' + (LG.claims.sub || '?'));
    if (LG.claims.role !== 'operator') {
      $('who').classList.add('warn');
      $('who').title = 'not an operator token: the server will refuse commands';
      T($('who'), LG.claims.role + ' token: read-only');
    }
  }

  const skus = new Map();          // sku -> row state
  let order = [];                  // SKU ids in the room's order
  let room = null, featured = null, selected = null;
  const dirtyRows = new Set(), dirtyCharts = new Set();
  const alerts = new Map();        // alert id -> { msg, el, acked }
  // Render latencies (ms from message arrival to the frame that shows it), for tests.
  const stats = { lat: [], messages: 0, reset() { this.lat = []; this.messages = 0; } };
  window.__lgConsole = { stats, skus, alerts };

  // ---------------- charts ----------------
  const MAX_POINTS = 1600;
  const css = getComputedStyle(document.documentElement);
  const COLORS = {};
  for (const l of LG.LEVELS) COLORS[l] = css.getPropertyValue('--' + l).trim() || '#2ecc71';
  const RATE = css.getPropertyValue('--accent').trim() || '#5aa9ff';

  function nowSec() { return Date.now() / 1000; }
  // Halves the resolution: pairs merge into their lower sellable and higher rate.
  function compact(pts) {
    while (pts.length > MAX_POINTS) {
      const out = [];
      const last = pts[pts.length - 1];
      for (let i = 0; i + 1 < pts.length - 1; i += 2) {
        const a = pts[i], b = pts[i + 1];
        const ra = a[2], rb = b[2];
        out.push([b[0], Math.min(a[1], b[1]), ra === null ? rb : rb === null ? ra : Math.max(ra, rb)]);
      }
      out.push(last);
      pts.length = 0;
      for (const p of out) pts.push(p);
    }
    return pts;
  }
  function addPoint(chart, t, sellable, rate) {
    const pts = chart.pts, last = pts[pts.length - 1];
    if (last && t - last[0] < 1) { last[1] = sellable; last[2] = rate; }
    else pts.push([t, sellable, rate]);
    if (pts.length > MAX_POINTS) compact(pts);
  }
  function markerTime(at) {
    if (typeof at === 'number') return at > 1e12 ? at / 1000 : at;
    if (typeof at === 'string') { const ms = Date.parse(at); if (!isNaN(ms)) return ms / 1000; }
    return nowSec();
  }

  function drawChart(st) {
    const cv = st.canvas;
    const w = cv.clientWidth, hgt = cv.clientHeight;
    if (!w || !hgt) return;
    const dpr = window.devicePixelRatio || 1;
    const W = Math.round(w * dpr), H = Math.round(hgt * dpr);
    if (cv.width !== W || cv.height !== H) { cv.width = W; cv.height = H; }
    const g = cv.getContext('2d');
    g.clearRect(0, 0, W, H);
    const c = st.chart, pts = c.pts;
    const t1 = nowSec();
    let t0 = pts.length ? pts[0][0] : t1 - 120;
    for (const m of c.markers) t0 = Math.min(t0, m.t);
    if (t1 - t0 < 120) t0 = t1 - 120;
    let ymax = 1, rmax = 0;
    for (const p of pts) { if (p[1] > ymax) ymax = p[1]; if (p[2] !== null && p[2] > rmax) rmax = p[2]; }
    if (c.safety && c.safety > ymax) ymax = c.safety;
    ymax *= 1.15;
    const top = 7 * dpr, bottom = H - 1 * dpr;
    const x = (t) => (t - t0) / (t1 - t0) * (W - 1) ;
    const y = (v) => bottom - (v / ymax) * (bottom - top);
    // baseline
    g.fillStyle = '#26303b';
    g.fillRect(0, bottom, W, 1 * dpr);
    const level = LG.levelOf(st.data);
    const col = COLORS[level];
    // safety line
    if (c.safety) {
      g.strokeStyle = COLORS.threshold; g.globalAlpha = .55; g.lineWidth = 1 * dpr;
      g.setLineDash([3 * dpr, 3 * dpr]);
      g.beginPath(); g.moveTo(0, y(c.safety)); g.lineTo(W, y(c.safety)); g.stroke();
      g.setLineDash([]); g.globalAlpha = 1;
    }
    if (pts.length) {
      // sellable as a step line: stock changes are steps
      g.beginPath();
      g.moveTo(x(pts[0][0]), y(pts[0][1]));
      for (let i = 1; i < pts.length; i++) {
        const xi = x(pts[i][0]);
        g.lineTo(xi, y(pts[i - 1][1]));
        g.lineTo(xi, y(pts[i][1]));
      }
      g.lineTo(W, y(pts[pts.length - 1][1]));
      g.strokeStyle = col; g.lineWidth = 1.5 * dpr; g.stroke();
      g.lineTo(W, bottom); g.lineTo(x(pts[0][0]), bottom); g.closePath();
      g.fillStyle = col; g.globalAlpha = .16; g.fill(); g.globalAlpha = 1;
      // rate, on its own scale
      if (rmax > 0) {
        g.beginPath();
        let started = false;
        for (const p of pts) {
          if (p[2] === null) { started = false; continue; }
          const px = x(p[0]), py = bottom - (p[2] / (rmax * 1.15)) * (bottom - top);
          if (started) g.lineTo(px, py); else { g.moveTo(px, py); started = true; }
        }
        g.strokeStyle = RATE; g.lineWidth = 1.2 * dpr; g.setLineDash([4 * dpr, 3 * dpr]); g.stroke(); g.setLineDash([]);
      }
    }
    // Without history (no series endpoint, a page opened just now) say where the line starts.
    if (pts.length && !c.fromSeries && pts[0][0] - t0 > (t1 - t0) * 0.25) {
      g.fillStyle = '#5d6875';
      g.font = (10 * dpr) + 'px ' + (css.getPropertyValue('--font') || 'sans-serif');
      g.textBaseline = 'bottom';
      g.fillText('from ' + LG.fmtClock(pts[0][0]).slice(0, 5), 3 * dpr, bottom - 2 * dpr);
    }
    // alert markers: a tick and a triangle in the level's colour
    for (const m of c.markers) {
      const mx = Math.round(x(m.t));
      g.fillStyle = COLORS[m.level] || COLORS.threshold;
      g.globalAlpha = .35; g.fillRect(mx, top, 1 * dpr, bottom - top); g.globalAlpha = 1;
      g.beginPath(); g.moveTo(mx - 4 * dpr, 0); g.lineTo(mx + 4 * dpr, 0); g.lineTo(mx, 6 * dpr); g.closePath(); g.fill();
    }
  }
  function drawDirtyCharts() {
    const start = performance.now();
    for (const sku of dirtyCharts) {
      const st = skus.get(sku);
      dirtyCharts.delete(sku);
      if (st) drawChart(st);
      if (performance.now() - start > 8) break;     // keep frames short; the rest next frame
    }
    if (dirtyCharts.size) LG.schedule('charts', drawDirtyCharts);
  }
  function chartsDirty(list) {
    for (const s of list) dirtyCharts.add(s);
    LG.schedule('charts', drawDirtyCharts);
  }
  setInterval(() => chartsDirty(order), 10000);     // the time axis moves on
  window.addEventListener('resize', () => chartsDirty(order));

  // ---------------- rows ----------------
  function makeRow(sku) {
    const h = LG.h;
    const tr = h('tr'); tr.dataset.sku = sku;
    const name = h('td', 'name'), n = h('div', 'n'), nm = h('span', 'nm', sku);
    const star = h('span', 'star', '★');
    star.title = 'featured now';
    n.append(star, nm);
    const idLine = h('div', 'id', sku);
    idLine.append(h('span', 'tag paused', 'PAUSED'));
    name.append(n, idLine);
    const levelTd = h('td', 'levelcell'), lv = h('span', 'level', '—'); levelTd.append(lv);
    const cells = {};
    const tds = [name, levelTd];
    for (const k of ['sellable', 'onHand', 'reserved', 'held', 'sold', 'rate', 'eta']) {
      cells[k] = h('td', 'num ' + k, '—');
      tds.push(cells[k]);
    }
    const chartTd = h('td', 'chart'), canvas = h('canvas');
    canvas.setAttribute('role', 'img');
    canvas.setAttribute('aria-label', 'sellable units of ' + sku + ' over the session');
    chartTd.append(canvas); tds.push(chartTd);
    tr.append(...tds);
    tr.addEventListener('click', () => select(sku));
    return { sku, tr, nm, lv, cells, canvas, data: { sku }, chart: { pts: [], markers: [], safety: null }, recv: [] };
  }
  function renderRow(st) {
    const d = st.data, level = LG.levelOf(d);
    let cls = 'lv-' + level;
    if (featured === d.sku) cls += ' is-featured';
    if (d.paused) cls += ' is-paused';
    if (selected === d.sku) cls += ' selected';
    if (st.tr.className !== cls) st.tr.className = cls;
    T(st.nm, d.name || d.sku);
    if (st.tr.title !== (d.name || d.sku)) st.tr.title = d.name || d.sku;
    T(st.lv, level);
    const c = st.cells;
    T(c.sellable, LG.fmtInt(d.sellable)); T(c.onHand, LG.fmtInt(d.onHand)); T(c.reserved, LG.fmtInt(d.reserved));
    T(c.held, LG.fmtInt(d.held)); T(c.sold, LG.fmtInt(d.sold)); T(c.rate, LG.fmtRate(d.ratePerMin));
    // The 98 % interval goes under the rate (a second, smaller line drawn from data-range), so the column
    // never truncates the figure itself.
    const range = typeof d.rateLowPerMin === 'number' && typeof d.rateHighPerMin === 'number' && d.ratePerMin !== null
      ? LG.fmtRateRange(d.ratePerMin, d.rateLowPerMin, d.rateHighPerMin).replace(/^.*\(|\)$/g, '') : '';
    if ((c.rate.dataset.range || '') !== range) {
      c.rate.dataset.range = range;
      c.rate.title = range ? '98 % interval: ' + range + ' /min' : '';
    }
    T(c.eta, LG.fmtEta(d.etaSec));
    c.eta.classList.toggle('soon', d.etaSec !== null && d.etaSec !== undefined && d.etaSec < 600);
  }
  function renderDirtyRows() {
    const now = performance.now();
    for (const sku of dirtyRows) {
      const st = skus.get(sku);
      if (!st) continue;
      renderRow(st);
      for (const t of st.recv) stats.lat.push(now - t);
      st.recv.length = 0;
    }
    stats.lastRenderWall = Date.now();
    if (stats.lat.length > 50000) stats.lat.splice(0, stats.lat.length - 50000);
    chartsDirty(dirtyRows);
    dirtyRows.clear();
    renderCommandsState();
  }
  function rowsDirty(list) {
    for (const s of list) dirtyRows.add(s);
    LG.schedule('rows', renderDirtyRows);
  }

  function upsert(s, arrived) {
    let st = skus.get(s.sku);
    if (!st) {
      st = makeRow(s.sku);
      skus.set(s.sku, st);
      if (!order.includes(s.sku)) { order.push(s.sku); rowsEl.append(st.tr); rebuildSelect(); }
    }
    for (const k of ['name', 'sellable', 'onHand', 'reserved', 'held', 'sold', 'paused', 'level', 'ratePerMin', 'rateLowPerMin', 'rateHighPerMin', 'etaSec', 'substitute']) {
      if (k in s) st.data[k] = s[k];
    }
    addPoint(st.chart, nowSec(), st.data.sellable, st.data.ratePerMin === undefined ? null : st.data.ratePerMin);
    if (arrived !== undefined) st.recv.push(arrived);
    dirtyRows.add(s.sku);
  }

  function rebuildSelect() {
    const keep = skuSel.value;
    skuSel.textContent = '';
    for (const sku of order) {
      const st = skus.get(sku);
      const o = LG.h('option', '', (st && st.data.name ? st.data.name + ' — ' : '') + sku);
      o.value = sku;
      skuSel.append(o);
    }
    if (keep && order.includes(keep)) skuSel.value = keep;
    else if (selected && order.includes(selected)) skuSel.value = selected;
    else if (featured && order.includes(featured)) skuSel.value = featured;
    selected = skuSel.value || null;
  }
  function select(sku) {
    const before = selected;
    selected = sku;
    if (skuSel.value !== sku) skuSel.value = sku;
    rowsDirty([before, sku].filter(Boolean));
  }
  skuSel.addEventListener('change', () => select(skuSel.value));
  function renderCommandsState() {
    const st = selected && skus.get(selected);
    const sub = st && st.data.substitute;
    const subSt = sub && skus.get(sub);
    T(subBtn, sub ? 'Feature substitute: ' + ((subSt && subSt.data.name) || sub) : 'Feature substitute (none set)');
    subBtn.disabled = !sub;
  }

  // ---------------- series (history for the charts) ----------------
  let seriesGen = 0;
  async function loadSeries() {
    const gen = ++seriesGen;
    const list = order.slice();
    if (!room || !list.length) return;
    const since = Math.floor(nowSec()) - 12 * 3600;   // the server keeps 12 h
    // The first request alone: a gateway without the endpoint answers 404 and the charts
    // carry on from the snapshot and the live messages.
    const first = await loadOne(list[0], since, gen);
    if (first === 'unsupported' || gen !== seriesGen) return;
    let i = 1;
    const worker = async () => { while (i < list.length && gen === seriesGen) await loadOne(list[i++], since, gen); };
    await Promise.all([worker(), worker(), worker()]);
  }
  async function loadOne(sku, since, gen) {
    const url = '/v1/rooms/' + encodeURIComponent(room) + '/series?sku=' + encodeURIComponent(sku) +
      '&since=' + since + '&token=' + encodeURIComponent(LG.token);
    let res;
    try { res = await fetch(url, { cache: 'no-store', headers: { Authorization: 'Bearer ' + LG.token } }); }
    catch (e) { return 'failed'; }
    if (res.status === 404) return 'unsupported';
    if (!res.ok) return 'failed';
    let body;
    try { body = await res.json(); } catch (e) { return 'failed'; }
    const st = skus.get(sku);
    if (gen !== seriesGen || !st || !body || !Array.isArray(body.points)) return 'stale';
    const pts = [];
    for (const p of body.points) {
      if (typeof p.t === 'number' && typeof p.sellable === 'number') {
        pts.push([p.t, p.sellable, typeof p.ratePerMin === 'number' ? p.ratePerMin : null]);
      }
    }
    const lastT = pts.length ? pts[pts.length - 1][0] : -Infinity;
    for (const p of st.chart.pts) if (p[0] > lastT) pts.push(p);   // live points that came meanwhile
    st.chart.pts = compact(pts);
    st.chart.fromSeries = true;
    const markers = [];
    for (const a of (Array.isArray(body.alerts) ? body.alerts : [])) markers.push({ t: markerTime(a.t), level: a.level });
    for (const m of st.chart.markers) if (m.t > lastT) markers.push(m);
    st.chart.markers = markers.slice(-500);
    chartsDirty([sku]);
    return 'ok';
  }

  // ---------------- alerts ----------------
  function unackedCount() { let n = 0; for (const a of alerts.values()) if (!a.acked) n++; return n; }
  function renderBadge() { const n = unackedCount(); T($('alert-count'), n ? String(n) : ''); }
  // The engine's suggestedAction as words and the command it leads to.
  function suggestionOf(m) {
    const qty = typeof m.suggestedQty === 'number' && m.suggestedQty > 0 ? m.suggestedQty : 0;
    const sub = m.substitute || (skus.get(m.sku) && skus.get(m.sku).data.substitute);
    switch (m.suggestedAction) {
      case 'prepareStock': return { label: 'prepare stock' + (qty ? ': restock ' + LG.fmtInt(qty) : ''), cmd: 'restock', qty };
      case 'restockOrChangePitch': return { label: 'restock' + (qty ? ' ' + LG.fmtInt(qty) : '') + ' or change the pitch', cmd: 'restock', qty };
      case 'switchToSubstitute':
        return sub ? { label: 'pitch the substitute' + (qty ? ', restock ' + LG.fmtInt(qty) : ''), cmd: 'feature-substitute', qty }
                   : { label: 'restock' + (qty ? ' ' + LG.fmtInt(qty) : ''), cmd: 'restock', qty };
      case undefined: case null: case '': case 'none': return null;
      default: return { label: 'suggest: ' + m.suggestedAction + (qty ? ' ' + LG.fmtInt(qty) : ''), cmd: '', qty };
    }
  }
  function markAcked(id, by) {
    const entry = alerts.get(String(id));
    if (!entry || entry.acked) return;
    entry.acked = true;
    entry.el.classList.add('acked');
    T(entry.el.querySelector('.state'), 'acknowledged' + (by ? ' by ' + by : ''));
    renderBadge();
  }
  function addAlert(m) {
    const st = skus.get(m.sku);
    const t = markerTime(m.at);
    if (st) {
      st.chart.markers.push({ t, level: m.level });
      if (st.chart.markers.length > 500) st.chart.markers.shift();
      if (typeof m.safetyLine === 'number') st.chart.safety = m.safetyLine;
      chartsDirty([m.sku]);
    }
    const id = String(m.id);
    const old = alerts.get(id);
    if (old) old.el.remove();
    const h = LG.h;
    const li = h('li', 'alert lv-' + (LG.LEVELS.includes(m.level) ? m.level : 'threshold'));
    li.dataset.alert = id;
    const head = h('div', 'head');
    head.append(h('span', 'lvl', m.level || 'alert'),
      h('span', 'sku', m.name || (st && st.data.name) || m.sku || ''), h('span', 'at', LG.fmtClock(t)));
    const facts = [];
    if (m.previousLevel) facts.push('was ' + m.previousLevel);
    if (typeof m.sellable === 'number') facts.push(LG.fmtInt(m.sellable) + ' sellable');
    if (typeof m.ratePerMin === 'number') facts.push(LG.fmtRateRange(m.ratePerMin, m.rateLowPerMin, m.rateHighPerMin));
    if (typeof m.etaSec === 'number') facts.push('out in ' + LG.fmtEta(m.etaSec));
    if (typeof m.safetyLine === 'number') facts.push('safety line ' + LG.fmtInt(m.safetyLine));
    const acts = h('div', 'acts');
    const suggestion = suggestionOf(m);
    if (suggestion) {
      const use = h('button', 'use', suggestion.label);
      use.type = 'button';
      use.title = 'fill the command form with this suggestion (you still click the command)';
      use.addEventListener('click', () => {
        if (m.sku && order.includes(m.sku)) select(m.sku);
        if (suggestion.qty) qtyIn.value = String(suggestion.qty);
        const b = document.querySelector('button[data-cmd="' + suggestion.cmd + '"]');
        if (b) b.focus();
      });
      acts.append(use);
    }
    const ackBtn = h('button', 'ack', 'Acknowledge');
    ackBtn.type = 'button';
    const state = h('span', 'state');
    acts.append(ackBtn, state);
    li.append(head, h('div', 'facts', facts.join(' · ')));
    // Why: the figures behind the alert (baseline and recent rates, the surge score against its limit, the line
    // crossed), as the engine wrote them.
    if (typeof m.why === 'string' && m.why) li.append(h('div', 'why', m.why));
    li.append(acts);
    const entry = { msg: m, el: li, acked: false };
    ackBtn.addEventListener('click', async () => {
      ackBtn.disabled = true;
      T(state, 'acknowledging…');
      const ans = await conn.command({ type: 'ack', alert: m.id });
      if (ans.type === 'result' && ans.ok !== false) {
        markAcked(m.id, LG.claims && LG.claims.sub);
      } else {
        ackBtn.disabled = false;
        T(state, 'not acknowledged: ' + (ans.message || ans.outcome || ans.code || 'error'));
      }
      renderBadge();
    });
    alerts.set(id, entry);
    const empty = feedEl.querySelector('.empty');
    if (empty) empty.remove();
    feedEl.prepend(li);
    while (alerts.size > 200) {
      const [firstId, firstEntry] = alerts.entries().next().value;
      firstEntry.el.remove(); alerts.delete(firstId);
    }
    renderBadge();
  }

  // ---------------- commands ----------------
  function logEntry(what) {
    const h = LG.h;
    const d = new Date();
    const li = h('li', 'pending');
    li.append(h('span', 't', LG.fmtClock(d.getTime() / 1000)), h('span', 'what', what), h('span', 'out', '…'));
    logEl.prepend(li);
    while (logEl.children.length > 50) logEl.lastChild.remove();
    return li;
  }
  function settle(li, ans) {
    const out = li.querySelector('.out');
    if (ans.type === 'result') {
      const good = ans.ok !== false;
      li.className = good ? 'ok' : 'fail';
      out.textContent = (good ? '✓ ' : '✗ ') + (ans.outcome || (good ? 'ok' : 'refused'));
      li.title = JSON.stringify(ans);
    } else {
      li.className = 'fail';
      out.textContent = '✗ ' + (ans.code || 'error');
      li.querySelector('.what').textContent += ' — ' + (ans.message || '');
      li.title = JSON.stringify(ans);
    }
    li.dataset.answer = ans.type;
  }
  async function run(cmd) {
    const sku = skuSel.value;
    const qty = Number(qtyIn.value);
    let msg, what;
    const needQty = cmd === 'restock' || cmd === 'hold' || cmd === 'release';
    if (needQty && !(Number.isInteger(qty) && qty >= 1 && qty <= 1000000)) {
      settle(logEntry(cmd + ' ' + sku), { type: 'error', code: 'badField', message: 'qty must be a whole number from 1 to 1,000,000' });
      return;
    }
    switch (cmd) {
      case 'restock': msg = { type: 'restock', sku, qty }; what = 'restock ' + sku + ' +' + qty; break;
      case 'hold': msg = { type: 'hold', sku, qty }; what = 'hold ' + qty + ' of ' + sku; break;
      case 'release': msg = { type: 'release', sku, qty }; what = 'release ' + qty + ' of ' + sku; break;
      case 'pause': case 'resume': case 'feature': msg = { type: cmd, sku }; what = cmd + ' ' + sku; break;
      case 'feature-substitute': {
        const st = skus.get(sku), sub = st && st.data.substitute;
        if (!sub) return;
        msg = { type: 'feature', sku: sub }; what = 'feature ' + sub + ' (for ' + sku + ')'; break;
      }
      case 'announce': {
        const textValue = annIn.value.trim();
        if (!textValue) { annIn.focus(); return; }
        msg = { type: 'announce', text: textValue }; what = 'announce “' + textValue + '”'; break;
      }
      default: return;
    }
    const li = logEntry(what);
    const ans = await conn.command(msg);
    settle(li, ans);
    if (cmd === 'announce' && ans.type === 'result' && ans.ok !== false) annIn.value = '';
  }
  $('cmd-form').addEventListener('click', (ev) => {
    const b = ev.target.closest('button[data-cmd]');
    if (b) run(b.dataset.cmd);
  });
  $('cmd-form').addEventListener('submit', (ev) => ev.preventDefault());
  annIn.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') { ev.preventDefault(); run('announce'); } });

  // ---------------- the connection ----------------
  let snapshotsSeen = 0;
  function onSnapshot(m) {
    snapshotsSeen++;
    room = m.room;
    T($('room-title'), m.title || m.room || '—');
    T($('room-id'), m.room || '');
    featured = m.featured || null;
    const list = Array.isArray(m.skus) ? m.skus : [];
    const ids = list.map((s) => s.sku);
    for (const [sku, st] of skus) if (!ids.includes(sku)) { st.tr.remove(); skus.delete(sku); }
    for (const s of list) { if (!skus.has(s.sku)) { const st = makeRow(s.sku); skus.set(s.sku, st); } upsert(s); }
    if (order.join('\n') !== ids.join('\n') || ids.some((s) => skus.get(s).tr.parentNode !== rowsEl)) {
      order = ids;
      for (const sku of order) rowsEl.append(skus.get(sku).tr);
    }
    rowsEl.classList.toggle('roomy', order.length <= 6);   // few SKUs: taller rows, bigger charts
    rebuildSelect();
    renderFeatured();
    rowsDirty(order);
    loadSeries();
  }
  function renderFeatured() {
    const st = featured && skus.get(featured);
    T($('featured'), st ? (st.data.name || featured) : (featured || '—'));
  }
  function onMessage(m) {
    const arrived = performance.now();
    switch (m.type) {
      case 'stock':
        stats.messages++;
        stats.lastArrivalWall = Date.now();
        upsert(m, arrived);
        LG.schedule('rows', renderDirtyRows);
        break;
      case 'featured': {
        const before = featured;
        featured = m.sku;
        renderFeatured();
        rowsDirty([before, featured].filter(Boolean));
        break;
      }
      case 'alert':
        addAlert(m);
        break;
      case 'ack':      // an operator (maybe another one) acknowledged an alert
        if (m.alert !== undefined) markAcked(m.alert, m.by);
        break;
      default:
        break;     // danmaku and anything newer: not shown on the console
    }
  }
  const conn = LG.connect({
    onSnapshot, onMessage,
    // A resumed stream brings no snapshot: the charts still come back from the series.
    // (After a restart the server sends a snapshot instead, which loads them itself.)
    onReconnect() {
      const seen = snapshotsSeen;
      setTimeout(() => { if (snapshotsSeen === seen) loadSeries(); }, 500);
    },
    onState(state, detail) {
      LG.renderConn(connEl, state, detail);
      if (state === 'notoken' || state === 'refused') LG.showBlocked(state, detail, 'operator');
    },
  });
  window.__lgConsole.conn = conn;
  const clock = $('clock');
  const tick = () => T(clock, LG.fmtClock(nowSec()));
  tick();
  setInterval(tick, 1000);
})();