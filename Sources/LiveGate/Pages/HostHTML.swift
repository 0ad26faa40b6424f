extension PageAssets {
    /// `/host`: the teleprompter, readable from three metres.
    static let hostHTML = #"""
<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>livegate · teleprompter</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{{asset:common.css}}">
<link rel="stylesheet" href="{{asset:host.css}}">
</head>
<body>
<div id="notice" class="notice" role="alert"></div>
<div class="app">
  <div id="conn" class="conn connecting" role="status" aria-live="polite">connecting…</div>
  <div id="stale" class="stale">reconnecting… figures may be out of date</div>
  <main id="prompts" class="prompts"><div class="waiting">waiting for the room…</div></main>
</div>
<noscript><p class="notice noscript">This page needs JavaScript.</p></noscript>
<script src="{{asset:common.js}}"></script>
<script src="{{asset:host.js}}"></script>
</body>
</html>
"""#
}
