extension PageAssets {
    /// The teleprompter: black, one huge figure in the level's colour, big plain words.
    static let hostCSS = #"""
html, body { height: 100%; background: #000; color: #f2f2f2; overflow: hidden; }
.app { height: 100vh; position: relative; }
#conn { position: absolute; top: 2vh; right: 2vw; font-size: max(14px, 2.6vh); z-index: 2; }
.stale { display: none; position: absolute; left: 0; right: 0; bottom: 0; z-index: 2; padding: 1.2vh 2vw;
  background: #4a3510; color: #ffd591; font-size: 3.6vh; font-weight: 700; text-align: center; }
html[data-conn="reconnecting"] .stale { display: block; }
html[data-conn="reconnecting"] .prompt .figure { opacity: .35; }
.prompts { height: 100%; display: flex; }
.waiting { margin: auto; color: #777; font-size: 4vh; }
.prompt { flex: 1; min-width: 0; display: flex; flex-direction: column; padding: 3vh 3vw 6vh;
  border-top: 1.6vh solid var(--lv, var(--normal)); }
.prompt + .prompt { border-left: 2px solid #222; }
.prompt .name { font-size: 5vh; font-weight: 700; color: #fff; white-space: nowrap; overflow: hidden; text-overflow: ellipsis;
  padding-right: 16vw; }
.prompt .middle { flex: 1; display: flex; flex-direction: column; justify-content: center; min-height: 0; }
.prompt .label { font-size: 4.2vh; color: #a8a8a8; }
.prompt .figure-line { display: flex; align-items: baseline; gap: 2vw; }
.prompt .figure { font-size: 38vh; line-height: .95; font-weight: 800; font-variant-numeric: tabular-nums; letter-spacing: -.02em;
  color: var(--lv, var(--normal)); }
.prompt .unit { font-size: 6vh; color: #bbb; font-weight: 700; }
.prompt .levelword { font-size: 5vh; font-weight: 800; color: #000; background: var(--lv, var(--normal)); padding: .1em .5em;
  border-radius: .25em; margin-left: auto; align-self: center; white-space: nowrap; }
.prompt.lv-normal .levelword { display: none; }
.prompt .may { font-size: 3.4vh; color: #9aa4b1; margin-top: .5vh; min-height: 4vh; }
.prompt .hint { font-size: 6.4vh; font-weight: 700; color: #fff; margin-top: 1.5vh; line-height: 1.2; }
.prompt .sub { display: none; margin-top: auto; font-size: 5.4vh; font-weight: 800; padding: 1.4vh 2vw; border-radius: 1.2vh;
  background: #10325a; color: #fff; border: .4vh solid var(--accent); }
.prompt .sub .arrow { color: var(--accent); margin-right: 1vw; }
.prompt .sub .left { color: #9cc8ff; font-weight: 600; margin-left: 1.5vw; font-size: 4.2vh; }
.prompt.pitch-sub .sub { display: block; }
.prompt.paused .figure { text-decoration: line-through; text-decoration-thickness: .06em; }
.many .prompt .figure { font-size: 22vh; }
.many .prompt .hint { font-size: 4.4vh; }
"""#
}
