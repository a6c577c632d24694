/* explorer.js - steps through an iosim run in the browser (`iosim html`;
 * viz/html.c embeds this file and the run's data in one page).
 *
 * The data (JSON in #run-data) holds every step as an array (columns
 * below), the scenario's source, each IRP's !irp view after the steps that
 * changed it, the machine's state the same way, and each IRP's flow
 * diagram as SVG.  Only what is on screen is drawn at each step: the
 * source line, about twenty table rows, one IRP, one timeline cursor - so
 * a 10,000-step run moves as fast as a short one.
 */
"use strict";
(function () {
  var D = JSON.parse(document.getElementById("run-data").textContent);
  var S = D.steps;
  /* step columns */
  var SEQ = 0, T = 1, CPU = 2, IRQL = 3, FRAME = 4, THR = 5, IRP = 6, DEV = 7, LOC = 8,
      KIND = 9, STATUS = 10, LINE = 11, DETAIL = 12, EXPL = 13;
  var FRAMES = ["idle", "thread", "apc", "dpc", "isr"];
  var FRAME_COLOURS = ["#e4e4e4", "#7fb3e6", "#b48ee0", "#f2a541", "#e0524a"];
  var cur = -1, shownIrp = 0, edges = [], whyNote = "", hashTimer = 0;
  /* Views are lists of line numbers into D.lines ("3,17,4"); D.irprows
     are [irp, seq, lines, setters], grouped here by IRP.  setters: the
     step that last set Status, Information, PendingReturned,
     CurrentLocation, Cancel, then [each location's Control]. */
  var irpviews = {};
  (D.irprows || []).forEach(function (r) {
    (irpviews[r[0]] = irpviews[r[0]] || []).push([r[1], r[2], r[3]]);
  });
  function decode(enc) {
    return enc === "" ? "" : enc.split(",").map(function (i) { return D.lines[+i]; }).join("\n");
  }
  var FIELDS = ["IoStatus.Status", "IoStatus.Information", "PendingReturned", "CurrentLocation", "Cancel"];
  var $ = function (id) { return document.getElementById(id); };

  function esc(s) {
    return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }
  function us(ns) { return (ns / 1000).toFixed(3) + " us"; }
  function irql(n) {
    return n < 0 ? "" : ["PASSIVE", "APC", "DISPATCH"][n] || (n >= 31 ? "HIGH" : "DIRQL" + n);
  }
  function threadName(id) { return id ? (D.threads[id] || "thread " + id) : ""; }
  function irpName(id) {
    if (!id) return "";
    var p = D.irps[id];
    return p && p.tag ? id + " (" + p.tag + ")" : String(id);
  }
  function devName(id) { return id ? (D.devices[id] || "device " + id) : ""; }
  /* The index of the step numbered seq (steps are numbered 1, 2, ...). */
  function indexOfSeq(seq) {
    var lo = 0, hi = S.length - 1;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1;
      if (S[mid][SEQ] < seq) lo = mid + 1; else if (S[mid][SEQ] > seq) hi = mid - 1; else return mid;
    }
    return Math.min(lo, S.length - 1);
  }
  /* The last entry [seq, text] of list with seq <= the given one. */
  function snapshot(list, seq) {
    if (!list) return null;
    var lo = 0, hi = list.length - 1, best = null;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1;
      if (list[mid][0] <= seq) { best = list[mid]; lo = mid + 1; } else hi = mid - 1;
    }
    return best;
  }

  /* ---- the scenario line of each step ----
     A step carries the line whose statement was running; a step the
     engine took with no line of its own (a library driver's DPC) is shown
     at the line that sent its IRP. */
  var irpLine = {};
  S.forEach(function (s) { if (s[IRP] && s[LINE] && !irpLine[s[IRP]]) irpLine[s[IRP]] = s[LINE]; });
  function lineOf(s) {
    if (s[LINE]) return { line: s[LINE], derived: false };
    if (s[IRP] && irpLine[s[IRP]]) return { line: irpLine[s[IRP]], derived: true };
    return { line: 0, derived: false };
  }

  /* ---- the page ---- */
  function build() {
    var kinds = D.kinds.map(function (k, i) { return "<option value=" + i + ">" + esc(k) + "</option>"; }).join("");
    document.body.insertAdjacentHTML("afterbegin",
      "<header><h1>" + esc(D.title) + "</h1>" +
      "<span class=where id=where></span>" +
      "<button id=prev title='previous step (Left)'>&larr;</button>" +
      "<button id=next title='next step (Right)'>&rarr;</button>" +
      "<label>n/p: <select id=kind>" + kinds + "</select></label>" +
      "<button id=big title='larger text'>A+</button>" +
      "<span id=help><kbd>&larr;</kbd><kbd>&rarr;</kbd> step, <kbd>Shift</kbd> same IRP, " +
      "<kbd>Home</kbd><kbd>End</kbd>, <kbd>n</kbd>/<kbd>p</kbd> next/previous of the kind chosen; " +
      "run " + D.run + ", seed " + D.seed + ", " + esc(D.outcome) + " after " + esc(D.end) + "</span></header>" +
      "<div id=timeline><canvas id=tl></canvas><div id=cursor></div></div>" +
      "<main>" +
      "<section><h2>Scenario " + esc(D.scenario) + "</h2><div class=scroll id=source></div></section>" +
      "<section><h2>Steps</h2><div class=scroll id=steps></div></section>" +
      "<section><h2>Why this step</h2><div id=explain></div></section>" +
      "<section><h2>The machine (CPUs, threads, ports, live IRPs)</h2><div class=scroll id=machine></div></section>" +
      "<section class=wide><h2 id=irphead>!irp</h2><div class=scroll id=irpview></div></section>" +
      "<section class=wide><h2 id=diaghead>IRP flow</h2><div class=scroll id=diagram></div></section>" +
      "</main>");
    var src = D.source == null ? ["(the scenario's text is not in this page)"] : D.source.split("\n");
    $("source").innerHTML = "<pre>" + src.map(function (l, i) {
      return "<span class=ln data-line=" + (i + 1) + ">" + (esc(l) || " ") + "</span>";
    }).join("") + "</pre>";
    $("prev").onclick = function () { go(cur - 1); };
    $("next").onclick = function () { go(cur + 1); };
    $("big").onclick = function () { document.body.classList.toggle("big"); drawTimeline(); };
    $("diagram").onclick = function () { this.classList.toggle("natural"); };
    /* Once a kind is chosen the keys step again (not through the list). */
    $("kind").onchange = function () { this.blur(); };
    $("irpview").onclick = function (e) {
      var f = e.target.closest(".field");
      if (f) why(+f.dataset.f, +(f.dataset.loc || 0));
    };
    $("steps").onclick = function (e) {
      var tr = e.target.closest("tr[data-i]");
      if (tr) go(+tr.dataset.i);
    };
    $("timeline").onclick = function (e) {
      var r = this.getBoundingClientRect();
      var x = Math.max(0, e.clientX - r.left - timelineLabel);
      go(stepAtTime(x / Math.max(1, r.width - timelineLabel) * Math.max(D.end_ns, 1)));
    };
    document.addEventListener("keydown", onKey);
    window.addEventListener("hashchange", fromHash);
    window.addEventListener("resize", drawTimeline);
  }

  /* ---- the timeline: a lane per CPU and per thread, drawn once ---- */
  var lanes = [];
  function buildLanes() {
    var byThread = {};
    for (var c = 0; c < D.cpus; c++) lanes.push({ name: "CPU " + c, segs: [] });
    Object.keys(D.threads).forEach(function (id) {
      byThread[id] = { name: D.threads[id], segs: [] };
      lanes.push(byThread[id]);
    });
    /* D.blocks: [cpu, frame, thread, t0, t1], what each CPU executed */
    (D.blocks || []).forEach(function (b) {
      var seg = { frame: b[1], t0: b[3], t1: b[4] };
      if (lanes[b[0]]) lanes[b[0]].segs.push(seg);
      if (b[1] === 1 && byThread[b[2]]) byThread[b[2]].segs.push(seg);
    });
  }
  function drawTimeline() {
    var cv = $("tl"), w = timelineWidth = cv.clientWidth || 800, lh = document.body.classList.contains("big") ? 20 : 14;
    var ratio = window.devicePixelRatio || 1, label = 90;
    cv.height = lanes.length * lh * ratio;
    cv.width = w * ratio;
    cv.style.height = lanes.length * lh + "px";
    var g = cv.getContext("2d");
    g.scale(ratio, ratio);
    g.font = (lh - 4) + "px sans-serif";
    var end = Math.max(D.end_ns, 1), x = function (t) { return label + (w - label) * t / end; };
    lanes.forEach(function (lane, k) {
      var y = k * lh;
      g.fillStyle = k % 2 ? "#fafafa" : "#fff";
      g.fillRect(0, y, w, lh);
      g.fillStyle = "#333";
      g.fillText(lane.name, 3, y + lh - 4, label - 6);
      lane.segs.forEach(function (s) {
        g.fillStyle = FRAME_COLOURS[s.frame] || "#ccc";
        g.fillRect(x(s.t0), y + 2, Math.max(1, x(s.t1) - x(s.t0)), lh - 4);
      });
    });
    timelineLabel = label;
    placeCursor();
  }
  var timelineLabel = 90;
  var timelineWidth = 800;
  function placeCursor() {
    if (cur < 0) return;
    var w = timelineWidth, end = Math.max(D.end_ns, 1);
    var c = $("cursor");
    c.style.left = (timelineLabel + (w - timelineLabel) * S[cur][T] / end) + "px";
    c.dataset.step = S[cur][SEQ];
  }
  function stepAtTime(t) {
    var lo = 0, hi = S.length - 1;
    while (lo < hi) {
      var mid = (lo + hi) >> 1;
      if (S[mid][T] < t) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  /* ---- one step ---- */
  function row(i) {
    var s = S[i];
    var cls = (i === cur ? "cur" : "") + (s[IRP] && s[IRP] === S[cur][IRP] ? " same-irp" : "");
    return "<tr data-i=" + i + " class='" + cls + "'><td>#" + s[SEQ] + "</td><td>" + us(s[T]) + "</td><td>" +
      (s[CPU] < 0 ? "" : s[CPU]) + "</td><td>" + (s[CPU] < 0 ? "" : irql(s[IRQL])) + "</td><td>" +
      (s[CPU] < 0 ? "" : FRAMES[s[FRAME]]) + "</td><td>" + esc(threadName(s[THR])) + "</td><td>" +
      esc(irpName(s[IRP])) + "</td><td>" + esc(devName(s[DEV])) + "</td><td>" + esc(D.kinds[s[KIND]]) +
      "</td><td class=detail>" + esc(s[DETAIL]) + "</td></tr>";
  }
  function showSteps() {
    var a = Math.max(0, cur - 8), b = Math.min(S.length, cur + 13), h = [];
    for (var i = a; i < b; i++) h.push(row(i));
    $("steps").innerHTML = "<table><thead><tr><th>step</th><th>time</th><th>CPU</th><th>IRQL</th><th>frame</th>" +
      "<th>thread</th><th>IRP</th><th>device</th><th>event</th><th>detail</th></tr></thead><tbody>" +
      h.join("") + "</tbody></table>";
  }
  function showSource() {
    var old = $("source").querySelector(".ln.cur, .ln.derived");
    if (old) old.classList.remove("cur", "derived");
    var l = lineOf(S[cur]);
    var el = l.line ? $("source").querySelector(".ln[data-line='" + l.line + "']") : null;
    if (!el) return;
    el.classList.add(l.derived ? "derived" : "cur");
  }
  /* Scrolling reads the layout: done once all panels are written, so a
     step costs one layout, not one per panel. */
  function scrollPanels() {
    var box = $("source"), el = box.querySelector(".ln.cur, .ln.derived");
    if (el && (el.offsetTop < box.scrollTop || el.offsetTop > box.scrollTop + box.clientHeight - 40))
      box.scrollTop = Math.max(0, el.offsetTop - box.clientHeight / 3);
    var tr = $("steps").querySelector("tr.cur");
    if (tr) $("steps").scrollTop = Math.max(0, tr.offsetTop - 60);
    var lit = $("diagram").querySelector("g.step.hl");
    if (lit) {
      var d = $("diagram"), r = lit.getBoundingClientRect(), br = d.getBoundingClientRect();
      if (r.top < br.top || r.bottom > br.bottom) d.scrollTop += r.top - br.top - br.height / 3;
      if (r.left < br.left || r.right > br.right) d.scrollLeft += r.left - br.left - br.width / 3;
    }
  }
  /* Text lines of `now` that `before` does not have, marked. */
  function marked(now, before) {
    var had = {};
    (before || "").split("\n").forEach(function (l) { had[l] = true; });
    return now.split("\n").map(function (l) {
      return before != null && !had[l] && l ? "<mark>" + esc(l) + "</mark>" : esc(l);
    }).join("\n");
  }
  function irpSnap(id, i) { return i >= 0 ? snapshot(irpviews[id], S[i][SEQ]) : null; }
  function irpText(id, i) {
    var v = irpSnap(id, i);
    return v ? decode(v[1]) : null;
  }
  /* The !irp text with its fields made clickable: data-f is the field
     (FIELDS, or 5 for a location's Control with data-loc). */
  function fieldSpans(html) {
    var loc = 0, lines = html.split("\n");
    function span(f, l, text) { return "<span class=field data-f=" + f + (l ? " data-loc=" + l : "") + " title='the step that set it'>" + text + "</span>"; }
    return lines.map(function (line, i) {
      if (/^(<mark>)?(&gt;| )\[/.test(line)) loc++; /* a location's header: location 1 first */
      else if (loc && i > 0 && /\[/.test(lines[i - 1]) && /^(<mark>)?\s+\d+\s+[0-9a-f]+\s/.test(line))
        line = line.replace(/^((?:<mark>)?\s+\d+\s+)([0-9a-f]+)/, function (m, a, c) { return a + span(5, loc, c); });
      return line
        .replace(/(\d+)( is current)/, function (m, a, b) { return span(3, 0, a) + b; })
        .replace(/PendingReturned \d/, function (m) { return span(2, 0, m); })
        .replace(/Cancel \d/, function (m) { return span(4, 0, m); })
        .replace(/IoStatus [A-Z_0-9x]+/, function (m) { return span(0, 0, m); })
        .replace(/Information \d+/, function (m) { return span(1, 0, m); });
    }).join("\n");
  }
  function why(f, loc) {
    var id = S[cur][IRP] || shownIrp, v = irpSnap(id, cur);
    if (!v) return;
    var step = f < 5 ? v[2][f] : (v[2][5] || [])[loc - 1];
    var name = f < 5 ? FIELDS[f] : "loc[" + loc + "].Control";
    if (!step) {
      whyNote = name + " of IRP " + irpName(id) + ": nothing set it by step #" + S[cur][SEQ] + ".";
      showExplain();
      return;
    }
    var from = S[cur][SEQ];
    whyNote = name + " of IRP " + esc(irpName(id)) + " as of step #" + from + " was last set here, at step #" + step +
      " (`iosim why --irp " + id + " --field " + name + " --at #" + from + "` follows the copies back).";
    var keep = whyNote;
    go(indexOfSeq(step));
    whyNote = keep;
    showExplain();
  }
  function showIrp() {
    var s = S[cur], id = s[IRP] || shownIrp;
    if (!id) {
      $("irphead").textContent = "!irp";
      $("irpview").innerHTML = "<div class=note>No IRP has been involved yet.</div>";
      $("diagram").innerHTML = "";
      return;
    }
    var now = irpText(id, cur), before = irpText(id, cur - 1);
    $("irphead").textContent = "!irp " + irpName(id) + (s[IRP] ? "" : " (the step involves no IRP: the last one shown)");
    $("irpview").innerHTML = now == null ? "<div class=note>IRP " + id + " does not exist yet at this step.</div>" :
      "<pre class=view>" + fieldSpans(marked(now, before)) + "</pre>";
    if (id !== shownIrp || !$("diagram").firstChild) {
      shownIrp = id;
      var svg = D.svgs[id];
      $("diagram").innerHTML = svg || "<div class=note>No diagram of IRP " + id + " in this page (too many IRPs).</div>";
      edges = [];
      $("diagram").querySelectorAll("g.step").forEach(function (g) {
        var m = /\bs(\d+)\b/.exec(g.getAttribute("class"));
        if (m) edges.push({ g: g, seq: +m[1] });
      });
      $("diaghead").textContent = "IRP flow of " + irpName(id);
    }
    var seq = s[SEQ];
    edges.forEach(function (e) {
      e.g.classList.toggle("hl", e.seq === seq);
      e.g.classList.toggle("later", e.seq > seq);
    });
  }
  function machineText(i) {
    return D.machine.map(function (part) {
      var v = snapshot(part, S[i][SEQ]);
      return v ? decode(v[1]) : "";
    }).filter(function (t) { return t; }).join("\n");
  }
  function showMachine() {
    if (!D.machine) {
      $("machine").innerHTML = "<div class=note>The machine's state is not in this page.</div>";
      return;
    }
    /* five parts: CPUs, threads, ports, live IRPs, each live IRP's !irp */
    var now = machineText(cur), before = cur > 0 ? machineText(cur - 1) : null;
    $("machine").innerHTML = "<pre class=view>" + marked(now, before) + "</pre>";
  }
  function showExplain() {
    var s = S[cur], p = cur > 0 ? S[cur - 1] : null, ch = [];
    if (p && s[CPU] >= 0) {
      if (p[CPU] !== s[CPU]) ch.push("CPU " + (p[CPU] < 0 ? "none" : p[CPU]) + " &rarr; " + s[CPU]);
      if (p[IRQL] !== s[IRQL] && p[CPU] === s[CPU]) ch.push("IRQL " + irql(p[IRQL]) + " &rarr; " + irql(s[IRQL]));
      if (p[FRAME] !== s[FRAME]) ch.push("frame " + FRAMES[p[FRAME]] + " &rarr; " + FRAMES[s[FRAME]]);
      if (p[THR] !== s[THR]) ch.push("thread " + esc(threadName(p[THR]) || "none") + " &rarr; " + esc(threadName(s[THR]) || "none"));
      if (p[IRP] !== s[IRP] && s[IRP]) ch.push("IRP " + esc(irpName(s[IRP])));
    }
    if (s[IRP] && irpText(s[IRP], cur) !== irpText(s[IRP], cur - 1) && irpText(s[IRP], cur) != null)
      ch.push("the IRP's fields marked in !irp");
    if (D.machine && cur > 0 && machineText(cur) !== machineText(cur - 1))
      ch.push("the machine's lines marked below");
    var l = lineOf(s);
    $("explain").innerHTML = "<div><b>" + esc(D.kinds[s[KIND]]) + "</b>" + (s[STATUS] ? " " + esc(s[STATUS]) : "") +
      (l.line ? " &middot; line " + l.line + (l.derived ? " (the engine, for the line that sent IRP " + s[IRP] + ")" : "") : "") +
      "</div><div class=detail>" + esc(s[DETAIL]) + "</div>" +
      (s[EXPL] >= 0 ? "<p>" + esc(D.expl[s[EXPL]]) + "</p>" : "") +
      (whyNote ? "<p id=why><b>Why:</b> " + whyNote + "</p>" : "") +
      "<div>Changed since the previous step:</div><ul id=changes>" +
      (ch.length ? ch.map(function (c) { return "<li>" + c + "</li>"; }).join("") : "<li>nothing the page tracks</li>") + "</ul>";
  }
  function go(i) {
    i = Math.max(0, Math.min(S.length - 1, i));
    if (i === cur) return;
    cur = i;
    whyNote = "";
    var s = S[cur];
    $("where").textContent = "step #" + s[SEQ] + " of " + S[S.length - 1][SEQ] + " · " + us(s[T]);
    document.body.dataset.step = s[SEQ];
    showSource();
    showSteps();
    showIrp();
    showMachine();
    showExplain();
    placeCursor();
    scrollPanels();
    /* The address follows once the keys rest: a link to the step shown. */
    clearTimeout(hashTimer);
    hashTimer = setTimeout(function () {
      if (location.hash !== "#" + S[cur][SEQ]) history.replaceState(null, "", "#" + S[cur][SEQ]);
    }, 150);
  }
  /* The next (dir 1) or previous (-1) step for which ok() holds. */
  function seek(dir, ok) {
    for (var i = cur + dir; i >= 0 && i < S.length; i += dir) if (ok(S[i])) return go(i);
  }
  function onKey(e) {
    if (e.target && e.target.tagName === "SELECT") return;
    var irp = S[cur][IRP] || shownIrp, kind = +$("kind").value;
    switch (e.key) {
      case "ArrowRight":
        if (e.shiftKey) seek(1, function (s) { return irp && s[IRP] === irp; }); else go(cur + 1);
        break;
      case "ArrowLeft":
        if (e.shiftKey) seek(-1, function (s) { return irp && s[IRP] === irp; }); else go(cur - 1);
        break;
      case "Home": go(0); break;
      case "End": go(S.length - 1); break;
      case "n": seek(1, function (s) { return s[KIND] === kind; }); break;
      case "p": seek(-1, function (s) { return s[KIND] === kind; }); break;
      case "+": document.body.classList.toggle("big"); drawTimeline(); break;
      default: return;
    }
    e.preventDefault();
  }
  function fromHash() {
    var m = /^#(\d+)$/.exec(location.hash);
    if (m) go(indexOfSeq(+m[1]));
  }

  build();
  buildLanes();
  var first = D.kinds.indexOf("complete");
  if (first >= 0) $("kind").value = first;
  if (S.length) {
    var asked = /^#(\d+)$/.exec(location.hash);
    go(asked ? indexOfSeq(+asked[1]) : 0);
  }
  drawTimeline();
  window.iosimExplorer = { go: go, seek: seek, step: function () { return S[cur][SEQ]; }, data: D };
})();
