extension PageAssets {
    /// The overlay: nothing but the banner and the chat on a transparent page; text on dark
    /// translucent pills with a shadow so it reads over any video.
    static let overlayCSS = #"""
html, body { background: transparent; height: 100%; overflow: hidden; }
html.preview body { background: radial-gradient(ellipse at 60% 40%, #54606e 0%, #2b323b 55%, #171b20 100%); }
.app { position: relative; height: 100vh; }
.banner { position: absolute; top: 4vh; left: 50%; transform: translateX(-50%) translateY(-2vh); max-width: 86vw;
  display: flex; align-items: center; gap: 1.2vw; padding: 1.4vh 2.4vw 1.4vh 1.2vw; border-radius: 999px;
  background: rgba(12, 14, 18, .82); color: #fff; font-size: 4.6vh; font-weight: 800; white-space: nowrap;
  box-shadow: 0 .6vh 2.4vh rgba(0, 0, 0, .45), inset 0 0 0 .35vh var(--lv, var(--threshold));
  opacity: 0; transition: opacity .25s ease, transform .25s ease; }
.banner.show { opacity: 1; transform: translateX(-50%) translateY(0); }
.banner .tag { flex: none; width: 2.2vh; height: 2.2vh; border-radius: 50%; background: var(--lv, var(--threshold));
  box-shadow: 0 0 1.4vh var(--lv, var(--threshold)); }
.banner.lv-emergency .tag, .banner.lv-soldout .tag { animation: pulse 1s ease-in-out infinite; }
.banner .text { overflow: hidden; text-overflow: ellipsis; text-shadow: 0 .2vh .4vh rgba(0, 0, 0, .6); }
@keyframes pulse { 50% { transform: scale(.6); opacity: .6; } }
.danmaku { position: absolute; left: 2vw; bottom: 4vh; width: 40vw; margin: 0; padding: 0; list-style: none;
  display: flex; flex-direction: column; gap: .9vh; }
.dm { align-self: flex-start; max-width: 100%; padding: .7vh 1.2vw; border-radius: 1.6vh; background: rgba(0, 0, 0, .52);
  color: #fff; font-size: 2.9vh; line-height: 1.35; text-shadow: 0 .15vh .3vh rgba(0, 0, 0, .7);
  animation: rise .25s ease-out; transition: opacity 1s ease; overflow-wrap: anywhere; }
.dm .from { color: #9fd3ff; font-weight: 700; margin-right: .7vw; }
.dm.host .from { color: #ffb3d9; }
.dm.system { background: linear-gradient(90deg, rgba(255, 170, 0, .95), rgba(255, 120, 40, .92)); color: #1a1000;
  font-weight: 700; text-shadow: none; box-shadow: 0 .4vh 1.4vh rgba(0, 0, 0, .35); }
.dm.system .from { color: #1a1000; background: rgba(255, 255, 255, .55); padding: 0 .6vw; border-radius: .8vh; }
.dm.old { opacity: 0; }
@keyframes rise { from { transform: translateY(1.5vh); opacity: 0; } to { transform: none; opacity: 1; } }
#conn { position: absolute; right: 1vw; bottom: 1vh; font-size: 12px; opacity: 0; transition: opacity .3s; }
html[data-conn="reconnecting"] #conn, html[data-conn="connecting"] #conn { opacity: .85; }
body.blocked { background: #111; }
"""#
}
