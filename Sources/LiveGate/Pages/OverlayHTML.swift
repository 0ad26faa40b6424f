extension PageAssets {
    /// `/overlay`: the viewer overlay, a transparent OBS browser source.
    static let overlayHTML = #"""
<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>livegate · overlay</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{{asset:common.css}}">
<link rel="stylesheet" href="{{asset:overlay.css}}">
</head>
<body>
<div id="notice" class="notice" role="alert"></div>
<div class="app">
  <div id="banner" class="banner" aria-live="polite"><span class="tag"></span><span class="text"></span></div>
  <ol id="danmaku" class="danmaku" aria-live="polite"></ol>
  <div id="conn" class="conn connecting">connecting…</div>
</div>
<script src="{{asset:common.js}}"></script>
<script src="{{asset:overlay.js}}"></script>
</body>
</html>
"""#
}
