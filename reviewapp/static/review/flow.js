// The queue page as one page (progressive enhancement of its plain POST form).
// A decision posts in the background (the JSON API, CSRF header) and the next item, claimed
// and preloaded beforehand (review/panel/?exclude=...), is swapped in at once. Keys: P, N,
// digits (tags), S (skip), U (undo the last decision for a few seconds), arrows (frames),
// space (play/pause). The page's strings come from data-t-* attributes of #flow.
(function () {
  var flow = document.getElementById("flow");
  if (!flow || !window.fetch || !window.HTMLTemplateElement) return;
  var T = flow.dataset;
  var holder = document.getElementById("prefetch");
  var live = document.getElementById("announce");
  var errorBox = document.getElementById("flow-error");
  var undoMs = parseInt(T.undoSeconds || "10", 10) * 1000;
  var current = flow.querySelector(".review-panel");
  var ahead = [];            // prefetched panels, claimed for this reviewer, in order
  var empty = false;         // the last prefetch found the queue empty
  var loading = null;        // the prefetch in flight
  var failed = false;        // the last prefetch failed (network, server): the next swap reloads
  var inflight = {};         // item id -> the decision's promise
  var last = null;           // the last decision, for U: {panel, id, at, promise}
  var stats = window.vigiaFlow = { timings: [], preloaded: [], inflight: inflight };
  var acted = 0;             // actions taken (U, a decision, a group): their answers come in any order
  var news = { seq: 0, result: "", next: "" };  // what is announced: the newest action's answer, the item shown
  if (!current) return;

  function say(text) { live.textContent = text; }
  function announce() { say([news.result, news.next].filter(Boolean).join(" ")); }
  function begin() { news = { seq: ++acted, result: "", next: "" }; return news.seq; }
  // The answer of the newest action (an older one's, arriving late, is not announced), then the
  // item on screen, whichever of the two comes first.
  function tell(seq, text) { if (seq === news.seq) { news.result = text; announce(); } }
  function showError(text) { errorBox.textContent = text; errorBox.hidden = !text; }
  function csrf(panel) {
    var input = panel.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }
  function post(panel, url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf(panel), "Accept": "application/json" },
      body: JSON.stringify(body || {}),
    }).then(function (r) {
      if (r.ok) return r.status === 204 ? null : r.json();
      return r.json().catch(function () { return {}; }).then(function (b) {
        throw new Error((b.error && b.error.message) || ("HTTP " + r.status));
      });
    });
  }

  function held() {
    var ids = Object.keys(inflight);
    [current].concat(ahead).forEach(function (p) { if (p.dataset.item) ids.push(p.dataset.item); });
    if (last) ids.push(last.id);
    return ids;
  }
  function prefetch() {
    if (loading || ahead.length || empty) return loading;
    failed = false;
    var query = held().map(function (id) { return "exclude=" + encodeURIComponent(id); }).join("&");
    loading = fetch(T.panelUrl + "?" + query, { credentials: "same-origin" }).then(function (r) {
      if (r.status === 204) { empty = true; return; }
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.text().then(function (html) {
        var t = document.createElement("template");
        t.innerHTML = html;
        var panel = t.content.querySelector(".review-panel");
        // Preload: eager images and a buffering video, in the hidden holder.
        panel.querySelectorAll("img").forEach(function (img) { img.loading = "eager"; });
        panel.querySelectorAll("video").forEach(function (v) { v.preload = "auto"; });
        holder.appendChild(panel);
        ahead.push(panel);
      });
    }).catch(function () { failed = true; }).then(function () { loading = null; });
    return loading;
  }

  function emptyPanel() {
    return document.getElementById("empty-template").content.firstElementChild.cloneNode(true);
  }
  function show(panel, t0) {
    var old = current;
    old.replaceWith(panel);
    current = panel;
    if (window.vigiaPlayer) current.querySelectorAll(".clip-player").forEach(window.vigiaPlayer);
    attachSuppress(current);
    current.focus({ preventScroll: true });
    if (current.dataset.announce) { news.next = T.tNext + ": " + current.dataset.announce; announce(); }
    if (t0 !== undefined) {
      var imgs = current.querySelectorAll(".strip img");
      var ready = Array.prototype.every.call(imgs, function (i) { return i.complete && i.naturalWidth > 0; });
      requestAnimationFrame(function () {
        stats.timings.push(performance.now() - t0);
        stats.preloaded.push(ready);
      });
    }
    return old;
  }
  // The next item on screen: the prefetched one, else (the prefetch still running) when it comes.
  function advance(t0) {
    if (ahead.length) { show(ahead.shift(), t0); prefetch(); return; }
    if (empty) {
      show(emptyPanel(), t0);
      setTimeout(function () { if (!current.dataset.item) location.reload(); }, 30000);
      return;
    }
    // The prefetch failed: the plain page (the server claims and renders the next item).
    if (failed && !loading) { location.assign(location.pathname); return; }
    var wait = loading || prefetch() || Promise.resolve();
    wait.then(function () { advance(t0); });
  }

  // An item taken off the screen but still this reviewer's (an undo, a refused decision): next again.
  function shelve(panel) {
    if (panel.dataset.item) { ahead.unshift(panel); holder.prepend(panel); }
  }

  function decisionBody(panel, verdict) {
    var suppress = panel.querySelector("input[name=suppress_similar]");
    var tags = Array.prototype.map.call(panel.querySelectorAll("input[name=tags]:checked"), function (b) { return b.value; });
    var note = panel.querySelector("input[name=note]");
    // A "person" cannot suppress: the default tick is dropped rather than the decision refused.
    if (suppress && verdict === "person" && !suppress.dataset.touched) suppress.checked = false;
    return { verdict: verdict, tags: tags, note: note ? note.value : "", suppress_similar: !!(suppress && suppress.checked) };
  }
  function act(kind, t0) {
    var panel = current, id = panel.dataset.item;
    if (!id || inflight[id]) return;
    showError("");
    var promise = kind === "skip"
      ? post(panel, panel.dataset.skipUrl)
      : post(panel, panel.dataset.decisionUrl, decisionBody(panel, kind));
    inflight[id] = promise;
    last = kind === "skip" ? null : { panel: panel, id: id, at: Date.now(), promise: promise };
    var seq = begin();
    advance(t0);
    promise.then(function () {
      delete inflight[id];
      tell(seq, kind === "skip" ? T.tSkipped : T.tSaved + ": " + kind.replace("_", " ") + ".");
    }, function (err) {
      // Not recorded: the item comes back on screen, with the message; the other waits ahead.
      delete inflight[id];
      if (last && last.id === id) last = null;
      showError(T.tNotSaved + ": " + err.message);
      shelve(show(panel));
    });
  }
  // G: "no person" for the item and its group (shown on the panel), one rule. Members this page
  // prefetched are dropped from the ones ahead; the group is not undoable from the page.
  function decideGroup(t0) {
    var panel = current, id = panel.dataset.item, box = panel.querySelector(".group[data-group-url]");
    if (!id || !box || inflight[id]) return;
    var members = box.dataset.members.split(",").filter(Boolean);
    var body = decisionBody(panel, "no_person");
    showError("");
    var promise = post(panel, box.dataset.groupUrl, { members: members.map(Number), tags: body.tags, note: body.note });
    [id].concat(members).forEach(function (m) { inflight[m] = promise; });
    ahead = ahead.filter(function (p) {
      var member = members.indexOf(p.dataset.item) >= 0;
      if (member) p.remove();
      return !member;
    });
    last = null;
    var seq = begin();
    advance(t0);
    promise.then(function () {
      [id].concat(members).forEach(function (m) { delete inflight[m]; });
      tell(seq, T.tSaved + ": no person \u00d7" + (members.length + 1) + ".");
    }, function (err) {
      [id].concat(members).forEach(function (m) { delete inflight[m]; });
      showError(T.tNotSaved + ": " + err.message);
      shelve(show(panel));
    });
  }

  function undo() {
    var l = last;
    if (!l || Date.now() - l.at > undoMs) { say(T.tNoUndo); return; }
    last = null;
    var seq = begin();
    l.promise.then(function () { return post(l.panel, l.panel.dataset.undoUrl); }).then(function () {
      shelve(show(l.panel));
      tell(seq, T.tUndone);
    }, function (err) { showError(T.tNotSaved + ": " + err.message); });
  }

  function attachSuppress(panel) {
    var suppress = panel.querySelector("input[name=suppress_similar]");
    if (!suppress || suppress.dataset.ready) return;
    suppress.dataset.ready = "1";
    suppress.addEventListener("change", function () { suppress.dataset.touched = "1"; });
    // On by default while a static-object tag is ticked, until the reviewer sets it themself.
    panel.addEventListener("change", function (e) {
      if (suppress.dataset.touched || e.target.name !== "tags") return;
      suppress.checked = panel.querySelectorAll('input[data-static="1"]:checked').length > 0;
    });
  }
  function stepFrame(delta) {
    var figures = current.querySelectorAll(".strip figure[data-time]");
    if (!figures.length) return;
    var at = Array.prototype.findIndex.call(figures, function (f) { return f.classList.contains("at"); });
    var next = Math.max(0, Math.min(figures.length - 1, at + delta));
    if (at >= 0) figures[at].classList.remove("at");
    figures[next].classList.add("at");
    figures[next].click();  // the player seeks the video there
  }
  function togglePlay() {
    var v = current.querySelector("video");
    if (v) { if (v.paused) v.play().catch(function () {}); else v.pause(); }
  }

  flow.addEventListener("submit", function (e) {
    // A click on a button of the form: the same as its key.
    e.preventDefault();
    var b = e.submitter;
    act(b && b.name === "action" ? "skip" : (b && b.value) || "no_person", performance.now());
  });
  document.addEventListener("keydown", function (e) {
    var t = e.target;
    if ((t.tagName === "INPUT" && t.type === "text") || t.name === "note" || t.tagName === "TEXTAREA") return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    var t0 = performance.now(), key = e.key.toLowerCase();
    var actions = { p: "person", n: "no_person", s: "skip" };
    if (actions[key]) { e.preventDefault(); act(actions[key], t0); }
    else if (key === "u") { e.preventDefault(); undo(); }
    else if (key === "g") { e.preventDefault(); decideGroup(t0); }
    else if (e.key === "ArrowRight" || e.key === "ArrowLeft") { e.preventDefault(); stepFrame(e.key === "ArrowRight" ? 1 : -1); }
    else if (e.key === " ") { e.preventDefault(); togglePlay(); }
    else {
      var box = current.querySelector('input[data-key="' + CSS.escape(e.key) + '"]');
      if (box) { e.preventDefault(); box.checked = !box.checked; box.dispatchEvent(new Event("change", { bubbles: true })); }
    }
  });
  attachSuppress(current);
  prefetch();
})();
