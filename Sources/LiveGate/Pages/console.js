'use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  const rowsEl = $('sku-rows'), connEl = $('conn'), skuSel = $('cmd-sku'), qtyIn = $('cmd-qty'), annIn = $('ann-text');
  const logEl = $('cmd-log'), feedEl = $('alert-feed'), openEl = $('open-alerts'), switchBtn = $('switch-btn');
  const T = LG.text;
  const isOperator = !LG.claims || LG.claims.role === 'operator';
  if (LG.claims) {
    T($('who'), (LG.claims.role || '?') + ' · ' + (LG.claims.sub || '?'));
    if (!isOperator) {
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
  const openAlerts = new Map();    // sku -> open alert (server's `alerts`, then live `alert` messages)
  const policies = new Map();      // sku -> { substitute, values }
  let policyFields = [];           // the server's policy field table
  let presence = null;             // the last `presence`
  let live = false, downSince = null;
  // Render latencies (ms from message arrival to the frame that shows it), for tests.
  const stats = { lat: [], messages: 0, reset() { this.lat = []; this.messages = 0; } };
  window.__lgConsole = { stats, skus, alerts, openAlerts, policies, get presence() { return presence; } };

  // ---------------- charts ----------------
  const MAX_POINTS = 1600;
  const css = getComputedStyle(document.documentElement);
  const COLORS = {};
  for (const l of LG.LEVELS) COLORS[l] = css.getPropertyValue('--' + l).trim() || '#2ecc71';
  const RATE = css.getPropertyValue('--accent').trim() || '#5aa9ff';
  const FONT = (css.getPropertyValue('--font') || 'sans-serif').trim();
  const ACTION = '#c9a7ff';

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
  // The safety line as the engine computes it: max(safetyMinimum, ceil(rate × lead time × safetyFactor)).
  function safetyOf(st) {
    const p = policies.get(st.sku);
    if (p && p.values) {
      const v = p.values, rate = typeof st.data.ratePerMin === 'number' ? st.data.ratePerMin : 0;
      const lead = (v.restockLeadTimeSeconds || 0) / 60;
      return Math.max(v.safetyMinimum || 0, Math.ceil(rate * lead * (v.safetyFactor || 0)));
    }
    return st.chart.safety;
  }
  // "Nice" steps for axes.
  const TIME_STEPS = [60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200];
  function niceStep(range, ticks) {
    const raw = range / Math.max(1, ticks);
    const mag = Math.pow(10, Math.floor(Math.log10(raw || 1)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * mag >= raw) return m * mag;
    return 10 * mag;
  }
  function fmtAxis(v) {
    if (v >= 1e6) return (Math.round(v / 1e5) / 10) + 'M';
    if (v >= 1e4) return (Math.round(v / 100) / 10) + 'k';
    return LG.fmtInt(Math.round(v * 10) / 10);
  }
  function hhmm(t) { return LG.fmtClock(t).slice(0, 5); }

  // Draws a SKU's chart: sellable (step line, left axis, units), rate (dashed, right axis, /min), the
  // safety line, alert markers (▼ in the level's colour) and operator actions (◆). `big`: the detail chart.
  function drawChart(st, cv, big) {
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
    for (const a of c.actions) t0 = Math.min(t0, a.t);
    if (t1 - t0 < 120) t0 = t1 - 120;
    let ymax = 1, rmax = 0;
    for (const p of pts) { if (p[1] > ymax) ymax = p[1]; if (p[2] !== null && p[2] > rmax) rmax = p[2]; }
    const safety = safetyOf(st);
    if (safety && safety > ymax) ymax = safety;
    const ystep = niceStep(ymax * 1.1, big ? 4 : 1);
    ymax = Math.ceil(ymax * 1.1 / ystep) * ystep;
    const rstep = rmax > 0 ? niceStep(rmax * 1.1, big ? 4 : 1) : 1;
    const rtop = rmax > 0 ? Math.ceil(rmax * 1.1 / rstep) * rstep : 1;
    const fs = (big ? 11 : 9) * dpr;
    g.font = fs + 'px ' + FONT;
    const left = (big ? 46 : 30) * dpr, right = W - (big ? 40 : 4) * dpr;
    const top = (big ? 14 : 8) * dpr, bottom = H - (big ? 18 : 11) * dpr;
    const x = (t) => left + (t - t0) / (t1 - t0) * (right - left);
    const y = (v) => bottom - (v / ymax) * (bottom - top);
    const yr = (v) => bottom - (v / rtop) * (bottom - top);
    // axes: grid lines and labels (units on the left, /min on the right, clock times below)
    g.fillStyle = '#6f7b89'; g.strokeStyle = '#26303b'; g.lineWidth = 1;
    g.textBaseline = 'middle'; g.textAlign = 'right';
    const ySteps = big ? Math.round(ymax / ystep) : 1;
    for (let i = 0; i <= ySteps; i++) {
      const v = big ? i * ystep : (i ? ymax : 0);
      const yy = Math.round(y(v)) + .5;
      g.beginPath(); g.moveTo(left, yy); g.lineTo(right, yy); g.stroke();
      g.fillText(fmtAxis(v), left - 3 * dpr, Math.min(Math.max(yy, fs / 2), bottom));
    }
    if (big) {
      g.save(); g.translate(9 * dpr, (top + bottom) / 2); g.rotate(-Math.PI / 2); g.textAlign = 'center';
      g.fillText('units', 0, 0); g.restore();
      if (rmax > 0) {
        g.textAlign = 'left'; g.fillStyle = RATE;
        for (let v = 0; v <= rtop + 1e-9; v += rstep) g.fillText(fmtAxis(v), right + 4 * dpr, yr(v));
        g.fillText('/min', right + 4 * dpr, top - 7 * dpr);
        g.fillStyle = '#6f7b89';
      }
    }
    // time axis
    g.textBaseline = 'top';
    const span = t1 - t0;
    const tstep = TIME_STEPS.find((s) => span / s <= (big ? 7 : 2)) || 86400;
    g.textAlign = 'center';
    for (let t = Math.ceil(t0 / tstep) * tstep; t <= t1; t += tstep) {
      const xx = Math.round(x(t)) + .5;
      g.beginPath(); g.moveTo(xx, bottom); g.lineTo(xx, bottom + 3 * dpr); g.stroke();
      const label = hhmm(t), lw = g.measureText(label).width;
      // (the small chart's left corner holds its start time)
      if (xx - lw / 2 > (big ? left - 2 : left + 4 * dpr) && xx + lw / 2 < right + (big ? 0 : 2)) g.fillText(label, xx, bottom + 2 * dpr);
    }
    if (!big) { g.textAlign = 'left'; g.fillText(hhmm(t0), 2 * dpr, bottom + 1 * dpr); }
    g.fillStyle = '#26303b';
    g.fillRect(left, bottom, right - left, 1 * dpr);
    const level = LG.levelOf(st.data);
    const col = COLORS[level];
    // safety line, labelled
    if (safety) {
      g.strokeStyle = COLORS.threshold; g.globalAlpha = .8; g.lineWidth = 1 * dpr;
      g.setLineDash([4 * dpr, 3 * dpr]);
      g.beginPath(); g.moveTo(left, y(safety)); g.lineTo(right, y(safety)); g.stroke();
      g.setLineDash([]); g.globalAlpha = 1;
      if (big) {
        g.fillStyle = COLORS.threshold; g.textAlign = 'left'; g.textBaseline = 'bottom';
        g.fillText('safety ' + LG.fmtInt(safety), left + 4 * dpr, y(safety) - 2 * dpr);
      }
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
      g.lineTo(right, y(pts[pts.length - 1][1]));
      g.strokeStyle = col; g.lineWidth = (big ? 2 : 1.5) * dpr; g.stroke();
      g.lineTo(right, bottom); g.lineTo(x(pts[0][0]), bottom); g.closePath();
      g.fillStyle = col; g.globalAlpha = .14; g.fill(); g.globalAlpha = 1;
      // rate, on its own scale
      if (rmax > 0) {
        g.beginPath();
        let started = false;
        for (const p of pts) {
          if (p[2] === null) { started = false; continue; }
          const px = x(p[0]), py = yr(p[2]);
          if (started) g.lineTo(px, py); else { g.moveTo(px, py); started = true; }
        }
        g.strokeStyle = RATE; g.lineWidth = 1.2 * dpr; g.setLineDash([4 * dpr, 3 * dpr]); g.stroke(); g.setLineDash([]);
      }
    }
    // Without history (a page opened just now, no series) say where the line starts.
    if (pts.length && !c.fromSeries && pts[0][0] - t0 > span * 0.25) {
      g.fillStyle = '#5d6875'; g.textAlign = 'left'; g.textBaseline = 'bottom';
      g.fillText('from ' + hhmm(pts[0][0]), left + 3 * dpr, bottom - 2 * dpr);
    }
    // alert markers: a tick and a triangle in the level's colour
    g.textAlign = 'center'; g.textBaseline = 'top';
    for (const m of c.markers) {
      const mx = Math.round(x(m.t));
      g.fillStyle = COLORS[m.level] || COLORS.threshold;
      g.globalAlpha = .35; g.fillRect(mx, top, 1 * dpr, bottom - top); g.globalAlpha = 1;
      g.beginPath(); g.moveTo(mx - 4 * dpr, top - 7 * dpr); g.lineTo(mx + 4 * dpr, top - 7 * dpr); g.lineTo(mx, top - 1 * dpr); g.closePath(); g.fill();
    }
    // operator actions: a diamond on the time axis, labelled on the detail chart
    // Labels from the newest back, each only where it does not overlap the one after it.
    let labelLeft = 1e9;
    for (let i = c.actions.length - 1; i >= 0; i--) {
      const a = c.actions[i];
      const ax = Math.round(x(a.t)), ay = bottom;
      g.fillStyle = ACTION;
      g.beginPath(); g.moveTo(ax, ay - 4 * dpr); g.lineTo(ax + 4 * dpr, ay); g.lineTo(ax, ay + 4 * dpr); g.lineTo(ax - 4 * dpr, ay); g.closePath(); g.fill();
      if (big) {
        const width = g.measureText(a.action).width;
        const lx = Math.min(ax + 3 * dpr, right - width);
        if (lx + width + 6 * dpr <= labelLeft && lx >= left) {
          g.textBaseline = 'bottom'; g.textAlign = 'left';
          g.fillText(a.action, lx, ay - 5 * dpr);
          labelLeft = lx;
        }
      }
    }
  }
  const detailCv = $('detail-chart');
  function drawDirtyCharts() {
    const start = performance.now();
    for (const sku of dirtyCharts) {
      const st = skus.get(sku);
      dirtyCharts.delete(sku);
      if (st) {
        drawChart(st, st.canvas, false);
        if (sku === selected) drawChart(st, detailCv, true);
      }
      if (performance.now() - start > 8) break;     // keep frames short; the rest next frame
    }
    if (dirtyCharts.size) LG.schedule('charts', drawDirtyCharts);
  }
  function chartsDirty(list) {
    for (const s of list) if (s) dirtyCharts.add(s);
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
    const levelTd = h('td', 'levelcell'), lv = h('span', 'level', '—'), since = h('div', 'since', '');
    levelTd.append(lv, since);
    const cells = {};
    const tds = [name, levelTd];
    const labels = { sellable: 'sellable', onHand: 'on hand', reserved: 'reserved', held: 'held', sold: 'sold', rate: 'rate', eta: 'out in' };
    for (const k of ['sellable', 'onHand', 'reserved', 'held', 'sold', 'rate', 'eta']) {
      cells[k] = h('td', 'num ' + k, '—');
      cells[k].dataset.label = labels[k];
      tds.push(cells[k]);
    }
    const chartTd = h('td', 'chart'), canvas = h('canvas');
    canvas.setAttribute('role', 'img');
    canvas.setAttribute('aria-label', 'sellable units of ' + sku + ' over the session');
    chartTd.append(canvas); tds.push(chartTd);
    tr.append(...tds);
    tr.addEventListener('click', () => select(sku));
    return { sku, tr, nm, lv, since, cells, canvas, data: { sku }, chart: { pts: [], markers: [], actions: [], safety: null }, recv: [] };
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
    const open = openAlerts.get(d.sku);
    T(st.since, open && level !== 'normal' ? 'since ' + (open.openSince ? hhmm(markerTime(open.openSince)) : 'restart') : '');
    st.since.title = open && open.why ? open.why : '';
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
    for (const s of list) if (s) dirtyRows.add(s);
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
    if (selected !== (skuSel.value || null)) select(skuSel.value || null);
  }
  function select(sku) {
    const before = selected;
    selected = sku;
    if (sku && skuSel.value !== sku) skuSel.value = sku;
    const st = sku && skus.get(sku);
    T($('detail-name'), st ? (st.data.name || sku) + ' · ' + sku : '—');
    rowsDirty([before, sku]);
    chartsDirty([sku]);
  }
  skuSel.addEventListener('change', () => select(skuSel.value));
  function nameOf(sku) { const st = skus.get(sku); return (st && st.data.name) || sku || ''; }
  function substituteOf(sku) {
    const p = policies.get(sku);
    if (p && p.substitute !== undefined) return p.substitute;
    const st = skus.get(sku);
    return st ? st.data.substitute : null;
  }
  function renderCommandsState() {
    const sub = selected && substituteOf(selected);
    T(switchBtn, sub ? 'Switch → ' + nameOf(sub).split(' ')[0] + '…' : 'Switch…');
    switchBtn.title = sub ? 'switch the room from ' + selected + ' to its substitute ' + sub : 'the selected SKU has no substitute (set one with Policy…)';
    for (const b of document.querySelectorAll('#cmd-form button')) {
      const off = !live || !isOperator || (b === switchBtn && !sub);
      if (b.disabled !== off) b.disabled = off;
    }
    T($('cmd-state'), !isOperator ? 'read-only token' : live ? '' : 'disabled while reconnecting');
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
    window.__lgConsole.seriesLoaded = (window.__lgConsole.seriesLoaded || 0) + 1;
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
    // What this page saw that the server's series lacks (live points that came meanwhile, or the
    // seconds before a gateway crash that its archive had not written yet) is kept.
    const bucket = Math.max(1, body.bucketSec || 10), covered = new Set(pts.map((p) => Math.floor(p[0] / bucket)));
    let merged = false;
    for (const p of st.chart.pts) {
      if (p[0] > lastT) pts.push(p);
      else if (!covered.has(Math.floor(p[0] / bucket))) { pts.push(p); merged = true; }
    }
    if (merged) pts.sort((a, b) => a[0] - b[0]);
    st.chart.pts = compact(pts);
    st.chart.fromSeries = true;
    const markers = [];
    for (const a of (Array.isArray(body.alerts) ? body.alerts : [])) markers.push({ t: markerTime(a.t), level: a.level });
    for (const m of st.chart.markers) if (m.t > lastT) markers.push(m);
    st.chart.markers = markers.slice(-500);
    if (Array.isArray(body.actions)) {
      const acts = [];
      for (const a of body.actions) if (typeof a.t === 'number') acts.push({ t: a.t, action: String(a.action || ''), by: a.by });
      const lastA = acts.length ? acts[acts.length - 1].t : -Infinity;
      for (const a of st.chart.actions) if (a.t > lastA + 1) acts.push(a);
      st.chart.actions = acts.slice(-200);
    }
    chartsDirty([sku]);
    return 'ok';
  }

  // ---------------- alerts ----------------
  function unackedCount() { let n = 0; for (const a of alerts.values()) if (!a.acked) n++; return n; }
  function renderBadge() { const n = unackedCount(); T($('alert-count'), n ? String(n) : ''); }
  // The engine's suggestedAction as words and the command it leads to.
  function suggestionOf(m) {
    const qty = typeof m.suggestedQty === 'number' && m.suggestedQty > 0 ? m.suggestedQty : 0;
    const sub = m.substitute || substituteOf(m.sku);
    switch (m.suggestedAction) {
      case 'prepareStock': return { label: 'prepare stock' + (qty ? ': restock ' + LG.fmtInt(qty) : ''), cmd: 'restock', qty };
      case 'restockOrChangePitch': return { label: 'restock' + (qty ? ' ' + LG.fmtInt(qty) : '') + ' or change the pitch', cmd: 'restock', qty };
      case 'switchToSubstitute':
        return sub ? { label: 'switch to the substitute' + (qty ? ', restock ' + LG.fmtInt(qty) : ''), cmd: 'switch', qty }
                   : { label: 'restock' + (qty ? ' ' + LG.fmtInt(qty) : ''), cmd: 'restock', qty };
      case undefined: case null: case '': case 'none': return null;
      default: return { label: 'suggest: ' + m.suggestedAction + (qty ? ' ' + LG.fmtInt(qty) : ''), cmd: '', qty };
    }
  }
  function markAcked(id, by) {
    const entry = alerts.get(String(id));
    for (const o of openAlerts.values()) if (String(o.id) === String(id) && !o.ackedBy) o.ackedBy = by || '?';
    renderOpen();
    if (!entry || entry.acked) return;
    entry.acked = true;
    entry.el.classList.add('acked');
    T(entry.el.querySelector('.state'), 'acknowledged' + (by ? ' by ' + by : ''));
    renderBadge();
  }
  async function acknowledge(id, btn, state) {
    btn.disabled = true;
    if (state) T(state, 'acknowledging…');
    const ans = await conn.command({ type: 'ack', alert: id });
    if (ans.type === 'result' && ans.ok !== false) {
      markAcked(id, LG.claims && LG.claims.sub);
    } else {
      btn.disabled = false;
      if (state) T(state, 'not acknowledged: ' + (ans.message || ans.outcome || ans.code || 'error'));
    }
    renderBadge();
  }
  // Open alerts: one line per SKU whose level is not normal, with since when and why.
  function renderOpen() {
    LG.schedule('open', () => {
      const h = LG.h;
      openEl.textContent = '';
      const list = order.filter((s) => openAlerts.has(s)).map((s) => openAlerts.get(s));
      for (const [sku, o] of openAlerts) if (!order.includes(sku)) list.push(o);
      T($('open-count'), list.length ? String(list.length) : '');
      if (!list.length) { openEl.append(h('li', 'empty', 'None open.')); return; }
      const now = nowSec();
      for (const o of list) {
        const li = h('li', 'open lv-' + (LG.LEVELS.includes(o.level) ? o.level : 'threshold'));
        li.dataset.sku = o.sku;
        const since = o.openSince ? markerTime(o.openSince) : null;
        const head = h('div', 'head');
        head.append(h('span', 'lvl', o.level), h('span', 'sku', o.name || nameOf(o.sku)),
          h('span', 'at', since ? 'since ' + hhmm(since) + ' (' + LG.fmtEta(now - since) + ')' : 'since before the restart'));
        li.append(head);
        // The figures behind the alert are those of its last level change, so say when that was.
        if (o.why) li.append(h('div', 'why', (o.at ? 'at ' + LG.fmtClock(markerTime(o.at)) + ': ' : '') + o.why));
        if (o.ackedBy) li.append(h('div', 'state', 'acknowledged by ' + o.ackedBy));
        else if (o.id) {
          const b = h('button', 'ack', 'Acknowledge'); b.type = 'button';
          b.disabled = !live || !isOperator;
          b.addEventListener('click', () => acknowledge(o.id, b, null));
          li.append(b);
        }
        li.addEventListener('click', (ev) => { if (ev.target.tagName !== 'BUTTON' && order.includes(o.sku)) select(o.sku); });
        openEl.append(li);
      }
    });
  }
  setInterval(renderOpen, 30000);      // the ages move on
  function noteOpen(m) {
    if (!m.sku) return;
    if (m.level === 'normal') openAlerts.delete(m.sku);
    else {
      const before = openAlerts.get(m.sku);
      openAlerts.set(m.sku, Object.assign({}, m, { openSince: (before && before.openSince) || m.at, ackedBy: null }));
    }
    renderOpen();
    rowsDirty([m.sku]);
  }
  function addAlert(m, fromHistory) {
    const id = String(m.id);
    if (fromHistory && alerts.has(id)) {           // already shown (seen live): only the acknowledgement
      if (m.ackedBy) markAcked(id, m.ackedBy);
      return;
    }
    const st = skus.get(m.sku);
    const t = markerTime(m.at);
    if (st) {
      if (!st.chart.markers.some((k) => Math.abs(k.t - t) < 1 && k.level === m.level)) {
        st.chart.markers.push({ t, level: m.level });
        if (st.chart.markers.length > 500) st.chart.markers.shift();
      }
      if (typeof m.safetyLine === 'number') st.chart.safety = m.safetyLine;
      chartsDirty([m.sku]);
    }
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
      use.title = 'fill the command form with this suggestion (you still confirm the command)';
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
    ackBtn.disabled = !live || !isOperator;
    ackBtn.addEventListener('click', () => acknowledge(m.id, ackBtn, state));
    alerts.set(id, entry);
    const empty = feedEl.querySelector('.empty');
    if (empty) empty.remove();
    feedEl.prepend(li);
    while (alerts.size > 200) {
      const [firstId, firstEntry] = alerts.entries().next().value;
      firstEntry.el.remove(); alerts.delete(firstId);
    }
    if (m.ackedBy) markAcked(id, m.ackedBy);
    renderBadge();
  }
  // The server's view on join: open alerts replace ours; the history fills in what this page did not see.
  function onAlertState(m) {
    openAlerts.clear();
    for (const o of (Array.isArray(m.open) ? m.open : [])) if (o && o.sku) openAlerts.set(o.sku, o);
    for (const r of (Array.isArray(m.recent) ? m.recent : [])) if (r && r.id !== undefined && r.id !== null) addAlert(r, true);
    window.__lgConsole.alertStates = (window.__lgConsole.alertStates || 0) + 1;
    renderOpen();
    rowsDirty(order);
  }

  // ---------------- presence ----------------
  function ago(at) {
    const s = Math.max(0, nowSec() - at);
    if (s < 60) return Math.floor(s) + ' s ago';
    if (s < 3600) return Math.floor(s / 60) + ' min ago';
    return Math.floor(s / 3600) + ' h ago';
  }
  function renderPresence() {
    const p = presence;
    const set = (id, n, needed) => {
      const el = $(id), b = el.querySelector('b');
      T(b, n === null ? '—' : (needed ? (n > 0 ? (n > 1 ? n + ' on' : 'on') : 'OFF') : LG.fmtInt(n)));
      el.classList.toggle('on', needed && n > 0);
      el.classList.toggle('off', needed && n === 0);
    };
    const pages = (p && p.pages) || {}, roles = (p && p.roles) || {};
    // The host page and the overlay: say whether they are there. Hosts without page= still count as hosts.
    set('pres-host', p ? Math.max(pages.host || 0, roles.host || 0) : null, true);
    set('pres-overlay', p ? (pages.overlay || 0) : null, true);
    set('pres-console', p ? (roles.operator || 0) : null, false);
    set('pres-viewer', p ? (roles.viewer || 0) : null, false);
    const refusedEl = $('refused');
    refusedEl.textContent = '';
    for (const r of ((p && p.refused) || [])) {
      if (nowSec() - r.at > 3600) continue;
      const who = r.page || r.role;
      const chip = LG.h('span', 'ref', who + ': ' + r.reason + ', ' + ago(r.at) + (r.sub ? ' (' + r.sub + ')' : ''));
      chip.title = 'a ' + r.role + ' connection' + (r.sub ? ' (' + r.sub + ')' : '') + ' was refused at ' + LG.fmtClock(r.at) +
        '; mint a new token for it (livegate token --role ' + r.role + ')';
      chip.dataset.role = r.role;
      refusedEl.append(chip);
    }
  }
  setInterval(renderPresence, 15000);

  // ---------------- the confirmation / editor dialog ----------------
  const dialog = $('dialog'), dialogForm = $('dialog-form');
  let dialogDone = null;
  // Opens the dialog; resolves with the form's values (an object) or null when cancelled.
  // fields: [{ name, label, type, value, min, max, step, options, hint }]
  function ask(title, body, fields, okLabel, check) {
    if (dialogDone) dialogDone(null);
    T($('dialog-title'), title);
    const bodyEl = $('dialog-body');
    bodyEl.textContent = '';
    for (const line of [].concat(body || [])) bodyEl.append(LG.h('p', '', line));
    const fieldsEl = $('dialog-fields');
    fieldsEl.textContent = '';
    const inputs = {};
    for (const f of fields || []) {
      const label = LG.h('label', 'field');
      label.dataset.field = f.name;
      label.append(LG.h('span', 'fname', f.label || f.name));
      let input;
      if (f.options) {
        input = LG.h('select');
        for (const [v, text] of f.options) { const o = LG.h('option', '', text); o.value = v; input.append(o); }
        input.value = f.value === null || f.value === undefined ? '' : String(f.value);
      } else {
        input = LG.h('input');
        input.type = f.type || 'number';
        if (f.min !== undefined) input.min = String(f.min);
        if (f.max !== undefined) input.max = String(f.max);
        input.step = f.step || 'any';
        input.value = f.value === null || f.value === undefined ? '' : String(f.value);
      }
      input.name = f.name;
      label.append(input);
      if (f.hint) { const hint = LG.h('span', 'fhint', f.hint); label.append(hint); label.title = f.hint; }
      label.append(LG.h('span', 'ferr'));
      fieldsEl.append(label);
      inputs[f.name] = input;
    }
    T($('dialog-error'), '');
    T($('dialog-ok'), okLabel || 'Confirm');
    dialog.hidden = false;
    const first = fieldsEl.querySelector('input, select');
    setTimeout(() => (first || $('dialog-ok')).focus(), 0);
    return new Promise((resolve) => {
      dialogDone = (v) => { dialogDone = null; dialog.hidden = true; resolve(v); };
      dialog.check = check;
      dialog.inputs = inputs;
    });
  }
  // Shows a server error in the open dialog, next to the field it names.
  function dialogError(ans) {
    T($('dialog-error'), (ans.code || 'error') + ': ' + (ans.message || ans.outcome || 'refused'));
    for (const l of document.querySelectorAll('#dialog-fields label')) {
      l.classList.toggle('bad', !!ans.field && l.dataset.field === ans.field);
      T(l.querySelector('.ferr'), ans.field && l.dataset.field === ans.field ? ans.message || 'refused' : '');
    }
    const bad = document.querySelector('#dialog-fields label.bad input, #dialog-fields label.bad select');
    if (bad) bad.focus();
  }
  dialogForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!dialogDone) return;
    const values = {};
    for (const [k, input] of Object.entries(dialog.inputs || {})) values[k] = input.value;
    if (dialog.check) {
      $('dialog-ok').disabled = true;
      const problem = await dialog.check(values);
      $('dialog-ok').disabled = false;
      if (problem) { dialogError(problem); return; }
    }
    if (dialogDone) dialogDone(values);
  });
  $('dialog-cancel').addEventListener('click', () => dialogDone && dialogDone(null));
  dialog.addEventListener('keydown', (ev) => { if (ev.key === 'Escape' && dialogDone) dialogDone(null); });

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
      li.querySelector('.what').textContent += ' — ' + (ans.field ? ans.field + ': ' : '') + (ans.message || '');
      li.title = JSON.stringify(ans);
    }
    li.dataset.answer = ans.type;
  }
  function ok(ans) { return ans && ans.type === 'result' && ans.ok !== false; }
  // Sends a command, logs it and its answer; a successful one that changes a SKU is marked on its chart.
  async function send(msg, what, chartSku, chartLabel) {
    const li = logEntry(what);
    const ans = await conn.command(msg);
    settle(li, ans);
    if (ok(ans) && chartSku) {
      const st = skus.get(chartSku);
      if (st) { st.chart.actions.push({ t: nowSec(), action: chartLabel || msg.type, by: LG.claims && LG.claims.sub }); chartsDirty([chartSku]); }
    }
    return ans;
  }
  function policyDialogFields(sku) {
    const p = policies.get(sku) || { values: {}, substitute: substituteOf(sku) };
    const fields = policyFields.map((f) => ({
      name: f.name, label: f.name + (f.kind === 'seconds' || f.kind === 'wholeSeconds' ? ' (s)' : ''),
      value: p.values ? p.values[f.name] : '', min: f.minExclusive ? undefined : f.min, max: f.max,
      step: f.kind === 'count' || f.kind === 'wholeSeconds' ? '1' : 'any',
      hint: f.summary + ' — ' + (f.minExclusive ? 'greater than ' + f.min : 'from ' + f.min) + ' to ' + LG.fmtInt(f.max),
    }));
    const options = [['', '(none)']].concat(order.filter((s) => s !== sku).map((s) => [s, nameOf(s) + ' — ' + s]));
    fields.push({ name: 'substitute', label: 'substitute', options, value: p.substitute || '' });
    return { fields, current: p };
  }
  async function run(cmd) {
    const sku = skuSel.value;
    const qty = Number(qtyIn.value);
    const name = nameOf(sku);
    const st = skus.get(sku);
    const sellable = st ? LG.fmtInt(st.data.sellable) : '?';
    const needQty = cmd === 'restock' || cmd === 'hold' || cmd === 'release';
    if (needQty && !(Number.isInteger(qty) && qty >= 1 && qty <= 1000000)) {
      settle(logEntry(cmd + ' ' + sku), { type: 'error', code: 'badField', field: 'qty', message: 'qty must be a whole number from 1 to 1,000,000' });
      return;
    }
    switch (cmd) {
      case 'restock': return send({ type: 'restock', sku, qty }, 'restock ' + sku + ' +' + qty, sku, 'restock +' + qty);
      case 'hold': return send({ type: 'hold', sku, qty }, 'hold ' + qty + ' of ' + sku, sku, 'hold ' + qty);
      case 'release': return send({ type: 'release', sku, qty }, 'release ' + qty + ' of ' + sku, sku, 'release ' + qty);
      case 'resume': return send({ type: 'resume', sku }, 'resume ' + sku, sku, 'resume');
      case 'pause': {
        const yes = await ask('Pause sales of ' + name + '?', ['New orders for ' + sku + ' are refused until you resume it (' + sellable + ' sellable now).'], [], 'Pause sales');
        if (yes) return send({ type: 'pause', sku }, 'pause ' + sku, sku, 'pause');
        return;
      }
      case 'feature': {
        const yes = await ask('Feature ' + name + '?', ['Every page shows ' + name + ' as the featured SKU (' + sellable + ' sellable).',
          'No hint or banner goes out: use Switch… to tell the host and the viewers.'], [], 'Feature it');
        if (yes) return send({ type: 'feature', sku }, 'feature ' + sku, sku, 'featured');
        return;
      }
      case 'switch': {
        const sub = substituteOf(sku);
        if (!sub) return;
        const subSt = skus.get(sub);
        const left = subSt ? LG.fmtInt(subSt.data.sellable) : '?';
        const yes = await ask('Switch from ' + name + ' to ' + nameOf(sub) + '?', [
          'On air now: featured becomes ' + nameOf(sub) + ' on every page.',
          'The host is told “switch to ' + nameOf(sub) + ', ' + left + ' in stock”; viewers see a banner for it.',
          'Undo switch… goes back to ' + (featured ? nameOf(featured) : name) + '.'], [], 'Switch now');
        if (yes) return send({ type: 'switch', sku }, 'switch ' + sku + ' → ' + sub, sub, 'switch from ' + sku);
        return;
      }
      case 'undo': {
        const yes = await ask('Undo the last switch?', ['The room goes back to the SKU featured before the switch; the host is told, the viewers\' banner is withdrawn.'], [], 'Undo switch');
        if (yes) return send({ type: 'undo' }, 'undo switch', null);
        return;
      }
      case 'launch': {
        const v = await ask('Launch ' + name + '?', [
          'Every page counts down, then sales of ' + sku + ' open (' + sellable + ' sellable).',
          st && !st.data.paused ? 'It is not paused now: the server refuses a launch of a SKU on sale; pause it first.' : 'It is paused now: the launch resumes it.'],
          [{ name: 'countdown', label: 'countdown (s, 0–60)', value: 3, min: 0, max: 60, step: '1' }], 'Start countdown',
          (vals) => {
            const n = Number(vals.countdown);
            return Number.isInteger(n) && n >= 0 && n <= 60 ? null : { code: 'badField', field: 'countdown', message: 'a whole number of seconds from 0 to 60' };
          });
        if (v) return send({ type: 'launch', sku, countdown: Number(v.countdown) }, 'launch ' + sku + ' in ' + v.countdown + ' s', sku, 'launch');
        return;
      }
      case 'drain': {
        const v = await ask('Drain the viewers of this room?', [
          'Every viewer connection (the overlay too) is closed with 1012 “reconnect now”, in waves; pages reconnect by themselves.',
          'Use it before a restart or to move viewers to another gateway.'],
          [{ name: 'waves', label: 'waves (1–100)', value: 5, min: 1, max: 100, step: '1' },
           { name: 'seconds', label: 'over seconds (0–600)', value: 10, min: 0, max: 600, step: '1' }], 'Drain viewers',
          (vals) => {
            const w = Number(vals.waves), s = Number(vals.seconds);
            if (!(Number.isInteger(w) && w >= 1 && w <= 100)) return { code: 'badField', field: 'waves', message: 'a whole number from 1 to 100' };
            if (!(Number.isInteger(s) && s >= 0 && s <= 600)) return { code: 'badField', field: 'seconds', message: 'a whole number from 0 to 600' };
            return null;
          });
        if (v) return send({ type: 'drain', waves: Number(v.waves), seconds: Number(v.seconds) }, 'drain viewers (' + v.waves + ' waves over ' + v.seconds + ' s)', null);
        return;
      }
      case 'policy': {
        if (!policyFields.length) {
          settle(logEntry('policy ' + sku), { type: 'error', code: 'unavailable', message: 'the server sent no policy fields (an older gateway?)' });
          return;
        }
        const { fields, current } = policyDialogFields(sku);
        // The dialog stays open until the server accepts the change; its error names the field.
        let sent = null;
        const v = await ask('Policy of ' + name, ['Alert lines for ' + sku + '. Only the fields you change are sent; the server checks each one.'],
          fields, 'Save policy', async (vals) => {
            const msg = { type: 'policy', sku };
            let changed = 0;
            for (const f of policyFields) {
              const raw = String(vals[f.name]).trim();
              const before = current.values ? current.values[f.name] : undefined;
              if (raw === '' || Number(raw) === before) continue;
              const n = Number(raw);
              if (!isFinite(n)) return { code: 'badField', field: f.name, message: f.name + ' must be a number' };
              msg[f.name] = n; changed++;
            }
            if ((vals.substitute || '') !== (current.substitute || '')) { msg.substitute = vals.substitute || ''; changed++; }
            if (!changed) return { code: 'unchanged', message: 'nothing changed' };
            const what = 'policy ' + sku + ': ' + Object.keys(msg).filter((k) => k !== 'type' && k !== 'sku').map((k) => k + '=' + (msg[k] === '' ? '(none)' : msg[k])).join(', ');
            const ans = await send(msg, what, sku, 'policy changed');
            if (!ok(ans)) return ans;
            sent = ans;
            return null;
          });
        return v ? sent : null;
      }
      case 'announce': {
        const textValue = annIn.value.trim();
        if (!textValue) { annIn.focus(); return; }
        const ans = await send({ type: 'announce', text: textValue }, 'announce “' + textValue + '”', null);
        if (ok(ans)) annIn.value = '';
        return ans;
      }
      default: return;
    }
  }
  $('cmd-form').addEventListener('click', (ev) => {
    const b = ev.target.closest('button[data-cmd]');
    if (b && !b.disabled) run(b.dataset.cmd);
  });
  $('cmd-form').addEventListener('submit', (ev) => ev.preventDefault());
  annIn.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') { ev.preventDefault(); run('announce'); } });

  // ---------------- launch countdown ----------------
  const launchBar = $('launch-bar');
  let launchTimer = null;
  function onLaunch(m) {
    clearTimeout(launchTimer);
    launchBar.classList.add('show');
    launchBar.classList.toggle('open', m.in === 0);
    T(launchBar, m.in > 0 ? 'Launch: ' + nameOf(m.sku) + ' opens in ' + m.in + ' s' : 'Launched: ' + nameOf(m.sku) + ' is on sale');
    launchTimer = setTimeout(() => launchBar.classList.remove('show'), m.in > 0 ? 3000 : 5000);
  }

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
  function onPolicies(m) {
    if (Array.isArray(m.fields) && m.fields.length) policyFields = m.fields;
    for (const s of (Array.isArray(m.skus) ? m.skus : [])) {
      if (!s || !s.sku) continue;
      policies.set(s.sku, { substitute: s.substitute === undefined ? null : s.substitute, values: s.values || {} });
      const st = skus.get(s.sku);
      if (st) st.data.substitute = s.substitute;
    }
    rowsDirty(order);
    chartsDirty(order);
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
        rowsDirty([before, featured]);
        break;
      }
      case 'alert':
        addAlert(m, false);
        noteOpen(m);
        break;
      case 'alerts':
        onAlertState(m);
        break;
      case 'ack':      // an operator (maybe another one) acknowledged an alert
        if (m.alert !== undefined) markAcked(m.alert, m.by);
        break;
      case 'presence':
        presence = m;
        renderPresence();
        break;
      case 'policies':
        onPolicies(m);
        break;
      case 'launch':
        onLaunch(m);
        break;
      default:
        break;     // danmaku, hints and anything newer: not shown on the console
    }
  }
  // While the connection is down the figures are greyed and the buttons disabled: what is shown may be stale.
  function renderLive(state, detail) {
    LG.renderConn(connEl, state, detail);
    if (state === 'reconnecting' || (state === 'connecting' && snapshotsSeen > 0)) {
      const secs = downSince === null ? 0 : Math.floor((Date.now() - downSince) / 1000);
      T(connEl, 'reconnecting… (since ' + LG.fmtEta(secs) + ')');
    }
  }
  let connState = 'connecting', connDetail = '';
  const conn = LG.connect({
    onSnapshot, onMessage,
    // A resumed stream brings no snapshot: the charts still come back from the series.
    // (After a restart the server sends a snapshot instead, which loads them itself.)
    onReconnect() {
      const seen = snapshotsSeen;
      setTimeout(() => { if (snapshotsSeen === seen) loadSeries(); }, 500);
    },
    onState(state, detail) {
      connState = state; connDetail = detail;
      const wasLive = live;
      live = state === 'live';
      if (live) downSince = null;
      else if (wasLive || downSince === null) downSince = downSince === null ? Date.now() : downSince;
      document.body.classList.toggle('stale', !live && snapshotsSeen > 0);
      renderLive(state, detail);
      if (wasLive !== live) {
        renderCommandsState(); renderOpen();
        for (const e of alerts.values()) { const b = e.el.querySelector('button.ack'); if (b && !e.acked) b.disabled = !live || !isOperator; }
        for (const b of document.querySelectorAll('#alert-feed button.use')) b.disabled = !live || !isOperator;
      }
      if (state === 'notoken' || state === 'refused') LG.showBlocked(state, detail, 'operator');
    },
  });
  window.__lgConsole.conn = conn;
  const clock = $('clock');
  const tick = () => {
    T(clock, LG.fmtClock(nowSec()));
    if (!live && snapshotsSeen > 0) renderLive(connState, connDetail);
  };
  tick();
  setInterval(tick, 1000);
  renderCommandsState();
})();
