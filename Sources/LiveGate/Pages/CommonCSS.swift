extension PageAssets {
    /// Shared by the three pages: the colours of the alert levels, the connection pill, the
    /// "token needed" notice. Fonts are local only (DejaVu for Latin, WenQuanYi Micro Hei for
    /// Chinese on Debian; the usual system fonts elsewhere).
    static let commonCSS = #"""
:root {
  --font: "DejaVu Sans", "Noto Sans", "Segoe UI", "Helvetica Neue", Arial, "WenQuanYi Micro Hei", "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif;
  --mono: "DejaVu Sans Mono", "Noto Sans Mono", Menlo, Consolas, "WenQuanYi Micro Hei Mono", monospace;
  --bg: #0f1318;
  --panel: #161b22;
  --panel-2: #1c232c;
  --line: #2a323d;
  --text: #d7dde5;
  --dim: #8591a0;
  --accent: #5aa9ff;
  --normal: #2ecc71;
  --trend: #f4d03f;
  --threshold: #ff9f1a;
  --emergency: #ff4d4f;
  --soldout: #a0a8b4;
  --ok: #2ecc71;
  --err: #ff6b6b;
}
* { box-sizing: border-box; }
html, body { margin: 0; padding: 0; }
body { font-family: var(--font); }
.lv-normal { --lv: var(--normal); }
.lv-trend { --lv: var(--trend); }
.lv-threshold { --lv: var(--threshold); }
.lv-emergency { --lv: var(--emergency); }
.lv-soldout { --lv: var(--soldout); }

.conn { display: inline-flex; align-items: center; gap: .45em; padding: .2em .75em; border-radius: 999px;
  font-size: 14px; font-weight: 600; white-space: nowrap; background: #22303d; color: var(--text); }
.conn::before { content: ""; width: .6em; height: .6em; border-radius: 50%; background: var(--dim); }
.conn.live::before { background: var(--ok); box-shadow: 0 0 6px var(--ok); }
.conn.connecting::before, .conn.reconnecting::before { background: var(--threshold); animation: blink 1s steps(2) infinite; }
.conn.reconnecting { background: #4a3510; color: #ffd591; }
.conn.refused, .conn.notoken { background: #4a1416; color: #ffb3b3; }
.conn.refused::before, .conn.notoken::before { background: var(--err); }
@keyframes blink { 50% { opacity: .2; } }

.notice { display: none; margin: 12vh auto 0; max-width: 760px; padding: 28px 32px; border-radius: 12px;
  background: #2a1416; border: 1px solid #7a2a2e; color: #ffd6d6; font-size: 20px; line-height: 1.5; }
.notice code { font-family: var(--mono); font-size: 15px; background: #00000055; padding: 2px 6px; border-radius: 4px;
  word-break: break-all; }
body.blocked .notice, .notice.noscript { display: block; }
body.blocked .app { display: none; }
"""#
}
