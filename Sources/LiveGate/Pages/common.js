'use strict';
(function () {
  const params = new URLSearchParams(location.search);
  const token = params.get('token') || '';

  // The token's claims (a JWT: the middle part is base64url JSON), for display only; the
  // server is the one that checks it.
  function claimsOf(t) {
    try {
      const part = t.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      const json = decodeURIComponent(escape(atob(part + '==='.slice((part.length + 3) % 4))));
      return JSON.parse(json);
    } catch (e) { return null; }
  }

  // ---------- batching DOM work into one animation frame ----------
  const tasks = new Map();
  let frameAsked = false;
  function flush() {
    frameAsked = false;
    const list = Array.from(tasks.values());
    tasks.clear();
    for (const fn of list) {
      try { fn(); } catch (e) { console.warn('render task failed', e); }
    }
  }
  // Runs fn once before the next paint; a later call with the same key replaces it.
  // A timer backs up requestAnimationFrame, which stops in hidden tabs and occluded windows.
  function schedule(key, fn) {
    tasks.set(key, fn);
    if (!frameAsked) {
      frameAsked = true;
      requestAnimationFrame(() => { if (frameAsked) flush(); });
      setTimeout(() => { if (frameAsked) flush(); }, 100);
    }
  }

  // ---------- formats ----------
  const intFmt = new Intl.NumberFormat('en-US');
  function fmtInt(n) { return (n === null || n === undefined) ? '—' : intFmt.format(n); }
  function fmtRate(r) {
    if (r === null || r === undefined) return '—';
    return (r >= 100 ? Math.round(r) : Math.round(r * 10) / 10) + '/min';
  }
  // A rate with its 98 % interval: "5.8/min (4.9–6.7)"; the bare rate when no interval came.
  function fmtRateRange(r, lo, hi) {
    if (r === null || r === undefined) return '—';
    if (typeof lo !== 'number' || typeof hi !== 'number') return fmtRate(r);
    const n = (x) => (x >= 100 ? Math.round(x) : Math.round(x * 10) / 10);
    return n(r) + '/min (' + n(lo) + '–' + n(hi) + ')';
  }
  function fmtEta(s) {
    if (s === null || s === undefined) return '—';
    // Rounded down: time to stock-out is better shown short than long.
    s = Math.max(0, Math.floor(s));
    if (s < 60) return s + ' s';
    if (s < 600) return Math.floor(s / 60) + 'm ' + String(s % 60).padStart(2, '0') + 's';
    const m = Math.floor(s / 60);
    if (m < 90) return m + ' min';
    const h = Math.floor(m / 60), mm = m % 60;
    return h + ' h ' + String(mm).padStart(2, '0');
  }
  function fmtClock(t) {
    const d = new Date(t * 1000);
    return String(d.getHours()).padStart(2, '0') + ':' + String(d.getMinutes()).padStart(2, '0') + ':' +
      String(d.getSeconds()).padStart(2, '0');
  }
  const LEVELS = ['normal', 'trend', 'threshold', 'emergency', 'soldout'];
  function levelOf(s) {
    if (s && LEVELS.includes(s.level)) return s.level;
    return (s && s.sellable === 0) ? 'soldout' : 'normal';
  }
  function setLevelClass(el, level) {
    for (const l of LEVELS) el.classList.toggle('lv-' + l, l === level);
  }
  function text(el, value) {
    const v = String(value);
    if (el.textContent !== v) el.textContent = v;
  }
  function h(tag, cls, content) {
    const el = document.createElement(tag);
    if (cls) el.className = cls;
    if (content !== undefined) el.textContent = content;
    return el;
  }

  // ---------- the room connection ----------
  // opts: { onSnapshot(msg), onMessage(msg), onState(state, detail), onReconnect(), retryRefused }
  // retryRefused: a page on air (an OBS source) keeps trying a refused token with a long backoff
  // (5 s doubling to 60 s) instead of giving up, so a token fixed on the server (a secret rotated
  // back, a room created) brings it back without anyone touching OBS.
  // states: notoken, connecting, live, reconnecting, refused
  function connect(opts) {
    const conn = {
      state: 'connecting', detail: '', seq: null, epoch: null, room: null, ws: null,
      attempts: 0, pending: new Map(), nextId: 1, snapshots: 0, lastInput: 0, opens: 0, openedAt: 0, gotMessage: false,
    };
    const setState = (state, detail) => {
      conn.state = state; conn.detail = detail || '';
      document.documentElement.dataset.conn = state;
      opts.onState && opts.onState(state, conn.detail);
    };
    if (!token) { setState('notoken', 'no token in the page URL'); return conn; }

    let retryTimer = null, watchdog = null;
    function url() {
      const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
      let u = proto + '//' + location.host + '/ws?token=' + encodeURIComponent(token);
      // Which page this is (console, host, overlay): the server counts it for the console's presence.
      const page = location.pathname.replace(/^\/+|\/+$/g, '');
      if (/^(console|host|overlay)$/.test(page)) u += '&page=' + page;
      if (conn.seq !== null && conn.epoch !== null) {
        u += '&since=' + encodeURIComponent(conn.seq) + '&epoch=' + encodeURIComponent(conn.epoch);
      }
      return u;
    }
    function open() {
      retryTimer = null;
      setState(conn.snapshots > 0 || conn.attempts > 0 ? 'reconnecting' : 'connecting');
      let ws;
      try { ws = new WebSocket(url()); } catch (e) { retry(); return; }
      conn.ws = ws;
      ws.onopen = () => {
        // Live from here: a resumed stream (since/epoch) sends no snapshot, only what was missed.
        conn.lastInput = performance.now();
        conn.openedAt = performance.now();
        conn.opens += 1;
        setState('live');
        if (conn.opens > 1 && opts.onReconnect) opts.onReconnect();
      };
      ws.onmessage = (ev) => {
        conn.lastInput = performance.now();
        conn.gotMessage = true;
        let msg;
        try { msg = JSON.parse(ev.data); } catch (e) { return; }
        if (!msg || typeof msg !== 'object') return;
        if (msg.type === 'snapshot') {
          conn.seq = msg.seq; conn.epoch = msg.epoch; conn.room = msg.room;
          conn.snapshots += 1;
          opts.onSnapshot && opts.onSnapshot(msg);
          return;
        }
        if (msg.type === 'pong') return;
        if ((msg.type === 'result' || msg.type === 'error') && msg.id !== undefined && msg.id !== null) {
          const p = conn.pending.get(String(msg.id));
          if (p) { conn.pending.delete(String(msg.id)); clearTimeout(p.timer); p.resolve(msg); }
        }
        if (typeof msg.seq === 'number') {
          // Resumed streams may repeat what we already have: skip it.
          if (conn.seq !== null && msg.seq <= conn.seq) return;
          conn.seq = msg.seq;
        }
        opts.onMessage && opts.onMessage(msg);
      };
      ws.onclose = (ev) => {
        if (conn.ws !== ws) return;
        conn.ws = null;
        for (const [id, p] of conn.pending) {
          clearTimeout(p.timer);
          p.resolve({ type: 'error', id, code: 'disconnected', message: 'connection lost before an answer' });
        }
        conn.pending.clear();
        if (ev.code === 1008) {
          // The token was refused (missing, malformed, expired, foreign, unknown room):
          // retrying the same token soon will not help.
          conn.refusals = (conn.refusals || 0) + 1;
          if (opts.retryRefused) {
            const delay = Math.min(60000, 5000 * Math.pow(2, Math.min(conn.refusals - 1, 4)));
            console.warn('livegate: token refused (' + (ev.reason || 'policy violation') + '); retrying in ' +
              Math.round(delay / 1000) + ' s');
            setState('refused', ev.reason || 'token refused');
            clearTimeout(retryTimer);
            retryTimer = setTimeout(open, delay);
            return;
          }
          setState('refused', ev.reason || 'token refused');
          return;
        }
        conn.refusals = 0;
        // A connection that worked for a while starts the backoff afresh.
        if (conn.gotMessage && performance.now() - conn.openedAt > 5000) conn.attempts = 0;
        conn.gotMessage = false;
        if (ev.code === 1012) {
          // Server restart or drain: reconnect now, spread out a little.
          retry(Math.random() * 1000);
        } else if (ev.code === 1013) {
          // Too slow a reader: back off for real, then resume.
          conn.attempts = Math.max(conn.attempts, 3);
          retry();
        } else {
          retry();
        }
      };
      ws.onerror = () => {};
    }
    function retry(now) {
      conn.attempts += 1;
      const ceiling = Math.min(10000, 400 * Math.pow(2, Math.min(conn.attempts - 1, 8)));
      const delay = now !== undefined ? now : ceiling / 2 + Math.random() * ceiling / 2;   // "equal jitter""
      setState('reconnecting', 'retry in ' + (delay / 1000).toFixed(1) + ' s');
      clearTimeout(retryTimer);
      retryTimer = setTimeout(open, delay);
    }
    // A quiet socket is checked with a ping; one that stays silent is dropped and redialled.
    watchdog = setInterval(() => {
      const ws = conn.ws;
      if (!ws || ws.readyState !== WebSocket.OPEN) return;
      const quiet = performance.now() - conn.lastInput;
      if (quiet > 45000) { try { ws.close(4000, 'silent'); } catch (e) {} conn.ws = null; retry(); }
      else if (quiet > 15000) ws.send(JSON.stringify({ type: 'ping', id: 'hb-' + (conn.nextId++) }));
    }, 5000);
    window.addEventListener('online', () => {
      if (conn.state === 'reconnecting' && retryTimer) { clearTimeout(retryTimer); open(); }
    });

    // Sends a command; resolves with its `result` or `error` (matched by id).
    conn.command = (message) => {
      const id = 'c' + (conn.nextId++) + '-' + Date.now().toString(36);
      const body = Object.assign({}, message, { id });
      return new Promise((resolve) => {
        const ws = conn.ws;
        if (!ws || ws.readyState !== WebSocket.OPEN) {
          resolve({ type: 'error', id, code: 'disconnected', message: 'not connected' });
          return;
        }
        const timer = setTimeout(() => {
          conn.pending.delete(id);
          resolve({ type: 'error', id, code: 'timeout', message: 'no answer within 10 s' });
        }, 10000);
        conn.pending.set(id, { resolve, timer });
        ws.send(JSON.stringify(body));
      });
    };
    conn.send = (message) => {
      const ws = conn.ws;
      if (!ws || ws.readyState !== WebSocket.OPEN) return false;
      ws.send(JSON.stringify(message));
      return true;
    };
    open();
    return conn;
  }

  // The plain-words notice for a page that cannot connect.
  function showBlocked(state, detail, role) {
    const box = document.getElementById('notice');
    if (!box) return;
    const example = location.origin + location.pathname + '?token=…';
    box.textContent = '';
    const title = h('div', 'notice-title');
    title.style.fontSize = '26px';
    title.style.fontWeight = '700';
    title.style.marginBottom = '10px';
    if (state === 'notoken') {
      title.textContent = 'A token is needed to open this page.';
      box.append(title, h('div', '', 'Open it as '), h('code', '', example),
        h('div', '', 'with a token minted for this room, for example:'),
        h('code', '', 'livegate token --room demo --role ' + role + ' --sub YOUR-NAME'));
    } else {
      title.textContent = 'The token in this link was refused.';
      box.append(title, h('div', '', 'The server said: ' + (detail || 'policy violation') + '.'),
        h('div', '', 'Ask for a new link, or mint a token with:'),
        h('code', '', 'livegate token --room ROOM --role ' + role + ' --sub YOUR-NAME'));
    }
    document.body.classList.add('blocked');
  }

  const CONN_TEXT = {
    notoken: 'no token', connecting: 'connecting…', live: 'live', reconnecting: 'reconnecting…', refused: 'token refused',
  };
  function renderConn(el, state, detail) {
    el.className = 'conn ' + state;
    text(el, CONN_TEXT[state] || state);
    el.title = detail || '';
  }

  window.LG = {
    token, params, claims: claimsOf(token), connect, schedule, showBlocked, renderConn,
    fmtInt, fmtRate, fmtRateRange, fmtEta, fmtClock, levelOf, setLevelClass, text, h, LEVELS,
  };
})();