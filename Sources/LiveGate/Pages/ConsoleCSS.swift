extension PageAssets {
    /// The console's dark theme: quiet greys, colour only where a level or an error is.
    static let consoleCSS = #"""
html, body { height: 100%; background: var(--bg); color: var(--text); }
body { font-size: 14px; overflow: hidden; }
.dim { color: var(--dim); }
.mono { font-family: var(--mono); }
.app { display: flex; flex-direction: column; height: 100vh; }
.top { display: flex; align-items: center; gap: 18px; padding: 0 16px; height: 48px; flex: none;
  background: var(--panel); border-bottom: 1px solid var(--line); }
.brand { font-weight: 800; letter-spacing: .02em; color: #fff; font-size: 16px; }
.brand span { font-weight: 500; color: var(--dim); margin-left: 6px; }
.room { font-size: 15px; color: #fff; }
.room .dim { margin-left: 8px; font-size: 13px; }
.featured { color: var(--dim); }
.featured b { color: var(--accent); font-weight: 600; margin-left: 4px; }
.spacer { flex: 1; }
#who.warn { color: #ffd591; font-weight: 600; }
main { flex: 1; min-height: 0; display: grid; grid-template-columns: minmax(0, 1fr) 330px; }
.skus { overflow: auto; min-height: 0; }
table { width: 100%; border-collapse: collapse; table-layout: fixed; }
thead th { position: sticky; top: 0; z-index: 1; background: var(--bg); color: var(--dim); font-weight: 500;
  font-size: 12px; text-align: left; padding: 10px 8px 6px; border-bottom: 1px solid var(--line); white-space: nowrap; }
th.num, td.num { text-align: right; font-variant-numeric: tabular-nums; }
th.c-name { width: 17%; } th.c-level { width: 116px; } th.c-sell { width: 112px; }
th.c-q { width: 62px; } th.c-rate { width: 74px; } th.c-eta { width: 78px; }
thead th, td { padding-left: 6px; padding-right: 6px; }
.key-sell, .key-rate { display: inline-block; width: 14px; height: 0; vertical-align: middle; margin: 0 2px; }
.key-sell { border-top: 2px solid var(--normal); }
.key-rate { border-top: 2px dashed var(--accent); }
tbody tr { border-bottom: 1px solid #1d242d; cursor: pointer; }
tbody tr:hover { background: #151b23; }
tbody tr.selected { background: #17212d; box-shadow: inset 3px 0 0 var(--accent); }
td { padding: 6px 8px; height: 62px; vertical-align: middle; font-variant-numeric: tabular-nums; white-space: nowrap;
  overflow: hidden; text-overflow: ellipsis; }
td.name .n { color: #fff; font-size: 14px; overflow: hidden; text-overflow: ellipsis; }
td.name .id { color: var(--dim); font-family: var(--mono); font-size: 12px; margin-top: 3px; }
.tag { display: inline-block; font-size: 11px; font-weight: 700; padding: 1px 6px; border-radius: 4px; margin-left: 6px;
  vertical-align: 1px; font-family: var(--font); }
.star { display: none; color: var(--accent); margin-right: 5px; }
tr.is-featured .star { display: inline; }
.tag.paused { background: #4a3510; color: #ffd591; }
.tag.paused { display: none; }
tr.is-paused .tag.paused { display: inline-block; }
.level { display: inline-block; padding: 3px 8px; border-radius: 999px; font-size: 11px; font-weight: 700;
  text-transform: uppercase; letter-spacing: .02em; color: #0d1014; background: var(--lv, var(--normal)); }
td.sellable { font-size: 22px; font-weight: 800; color: var(--lv, var(--normal)); }
tr.lv-normal td.sellable { color: #e8f7ee; }
tr.lv-normal .level { background: transparent; color: var(--normal); box-shadow: inset 0 0 0 1px #2ecc7166; }
td.eta.soon { color: var(--emergency); font-weight: 700; }
td.chart { padding: 4px 8px; }
td.chart canvas { display: block; width: 100%; height: 52px; }
tbody.roomy td { height: 104px; }
tbody.roomy td.chart canvas { height: 92px; }
tbody.roomy td.sellable { font-size: 26px; }

aside { display: flex; flex-direction: column; min-height: 0; border-left: 1px solid var(--line); background: var(--panel); }
.panel { padding: 12px 14px; border-bottom: 1px solid var(--line); min-height: 0; }
.panel h2 { margin: 0 0 10px; font-size: 12px; text-transform: uppercase; letter-spacing: .08em; color: var(--dim); font-weight: 700; }
.commands { flex: none; }
.alerts { flex: 1; display: flex; flex-direction: column; }
form .row { display: flex; gap: 8px; align-items: flex-end; margin-bottom: 8px; }
form label { display: flex; flex-direction: column; gap: 4px; font-size: 11px; color: var(--dim); text-transform: uppercase; letter-spacing: .05em; }
form label.grow { flex: 1; min-width: 0; }
form label.qty { width: 96px; }
select, input { font: inherit; font-size: 14px; color: var(--text); background: var(--bg); border: 1px solid var(--line);
  border-radius: 6px; padding: 6px 8px; width: 100%; text-transform: none; letter-spacing: normal; }
select:focus, input:focus, button:focus-visible { outline: 2px solid var(--accent); outline-offset: 1px; }
.buttons { display: grid; grid-template-columns: repeat(3, 1fr); gap: 6px; margin-bottom: 10px; }
button { font: inherit; font-size: 13px; font-weight: 600; color: var(--text); background: var(--panel-2); border: 1px solid var(--line);
  border-radius: 6px; padding: 7px 8px; cursor: pointer; white-space: nowrap; }
button:hover { background: #243040; }
button.primary { background: #1d4f86; border-color: #2a66a8; color: #fff; }
button.primary:hover { background: #245d9c; }
button:disabled { opacity: .45; cursor: default; }
#sub-btn { grid-column: span 3; overflow: hidden; text-overflow: ellipsis; }
.log { list-style: none; margin: 0; padding: 0; max-height: 132px; overflow: auto; font-size: 12px; }
.log li { display: flex; gap: 8px; padding: 4px 0; border-top: 1px solid #222a34; }
.log .t { color: var(--dim); font-family: var(--mono); flex: none; }
.log .what { flex: 1; min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.log .out { flex: none; font-weight: 700; }
.log li.pending .out { color: var(--dim); }
.log li.ok .out { color: var(--ok); }
.log li.fail .out { color: var(--err); }
.badge { display: inline-block; min-width: 20px; padding: 0 6px; border-radius: 999px; background: var(--emergency); color: #fff;
  font-size: 11px; text-align: center; letter-spacing: 0; }
.badge:empty { display: none; }
.feed { list-style: none; margin: 0; padding: 0; overflow: auto; flex: 1; min-height: 0; }
.feed .empty { color: var(--dim); font-size: 13px; line-height: 1.5; padding: 6px 0; }
.alert { border-left: 4px solid var(--lv); background: var(--panel-2); border-radius: 6px; padding: 8px 10px; margin-bottom: 8px; }
.alert .head { display: flex; align-items: baseline; gap: 8px; }
.alert .lvl { font-weight: 800; color: var(--lv); text-transform: uppercase; font-size: 12px; letter-spacing: .05em; }
.alert .sku { color: #fff; font-weight: 600; flex: 1; min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.alert .at { color: var(--dim); font-family: var(--mono); font-size: 11px; }
.alert .facts { color: var(--text); font-size: 12px; margin: 4px 0 6px; }
.alert .acts { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; }
.alert .acts button { padding: 4px 8px; font-size: 12px; }
.alert .acts .state { color: var(--dim); font-size: 12px; }
.alert.acked { opacity: .5; }
.alert.acked .ack { display: none; }
"""#
}
