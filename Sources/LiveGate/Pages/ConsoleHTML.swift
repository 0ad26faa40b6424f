extension PageAssets {
    /// `/console`: the operator's page.
    static let consoleHTML = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>livegate · operator console</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{{asset:common.css}}">
<link rel="stylesheet" href="{{asset:console.css}}">
</head>
<body>
<div id="notice" class="notice" role="alert"></div>
<div class="app">
  <header class="top">
    <div class="brand">livegate<span>console</span></div>
    <div class="room"><span id="room-title">—</span><span id="room-id" class="dim"></span></div>
    <div class="featured">featured <b id="featured">—</b></div>
    <div class="spacer"></div>
    <div id="who" class="dim"></div>
    <div id="clock" class="dim mono"></div>
    <div id="conn" class="conn connecting" role="status" aria-live="polite">connecting…</div>
  </header>
  <main>
    <section class="skus">
      <table>
        <thead>
          <tr>
            <th class="c-name">SKU</th><th class="c-level">level</th><th class="num c-sell">sellable</th>
            <th class="num c-q">on hand</th><th class="num c-q">reserved</th><th class="num c-q">held</th><th class="num c-q">sold</th>
            <th class="num c-rate">rate</th><th class="num c-eta">out in</th>
            <th class="c-chart">sellable <i class="key-sell"></i> rate <i class="key-rate"></i></th>
          </tr>
        </thead>
        <tbody id="sku-rows"></tbody>
      </table>
    </section>
    <aside>
      <section class="panel commands">
        <h2>Commands</h2>
        <form id="cmd-form" autocomplete="off">
          <div class="row">
            <label class="grow">SKU <select id="cmd-sku"></select></label>
            <label class="qty">qty <input id="cmd-qty" type="number" min="1" max="1000000" step="1" value="100"></label>
          </div>
          <div class="buttons">
            <button type="button" data-cmd="restock" class="primary">Restock</button>
            <button type="button" data-cmd="hold">Hold</button>
            <button type="button" data-cmd="release">Release</button>
            <button type="button" data-cmd="pause">Pause</button>
            <button type="button" data-cmd="resume">Resume</button>
            <button type="button" data-cmd="feature">Feature</button>
            <button type="button" data-cmd="feature-substitute" id="sub-btn">Feature substitute</button>
          </div>
          <div class="row">
            <label class="grow">announce <input id="ann-text" type="text" maxlength="120" placeholder="补货200件,5分钟后开抢"></label>
            <button type="button" data-cmd="announce">Send</button>
          </div>
        </form>
        <ol id="cmd-log" class="log"></ol>
      </section>
      <section class="panel alerts">
        <h2>Alerts <span id="alert-count" class="badge"></span></h2>
        <ol id="alert-feed" class="feed"><li class="empty">No alerts. They appear here as the alert engine raises them.</li></ol>
      </section>
    </aside>
  </main>
</div>
<noscript><p class="notice noscript">This page needs JavaScript.</p></noscript>
<script src="{{asset:common.js}}"></script>
<script src="{{asset:console.js}}"></script>
</body>
</html>
"""#
}
