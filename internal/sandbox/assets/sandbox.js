// incidentbot sandbox: every form works without JavaScript (POST, then a
// redirect back); this script only submits them in the background and
// refreshes the page's parts from state.json about once a second.
(function () {
  "use strict";
  var app = document.getElementById("app");
  var prefix = app.dataset.prefix, user = app.dataset.user, channel = app.dataset.channel, tab = app.dataset.tab;
  var modalKey = app.dataset.modalKey || "";
  var follow = 0; // an incident number whose channel to open once it exists
  try { follow = parseInt(sessionStorage.getItem("sandbox.follow") || "0", 10) || 0; } catch (e) {}
  var inflight = false;

  function flash(text, isErr) {
    var f = document.getElementById("flash");
    f.textContent = text || "";
    f.hidden = !text;
    f.classList.toggle("err", !!isErr);
  }

  function pageURL(ch) {
    var q = new URLSearchParams({ user: user });
    if (ch) q.set("channel", ch);
    return prefix + "?" + q.toString();
  }

  function nearBottom(el) { return el.scrollHeight - el.scrollTop - el.clientHeight < 80; }

  function scrollDown() {
    var m = document.getElementById("main");
    m.scrollTop = m.scrollHeight;
    window.scrollTo(0, document.body.scrollHeight);
  }

  function busy(el) {
    var a = document.activeElement;
    return a && el.contains(a) && (a.tagName === "SELECT" || a.tagName === "INPUT" || a.tagName === "TEXTAREA");
  }

  function apply(st) {
    var side = document.getElementById("sidebar");
    if (side.dataset.html !== st.sidebar && !busy(side)) {
      side.innerHTML = st.sidebar;
      side.dataset.html = st.sidebar;
    }
    var main = document.getElementById("main");
    if (main.dataset.html !== st.main && !busy(main)) {
      var stick = nearBottom(main) || !main.dataset.html;
      main.innerHTML = st.main;
      main.dataset.html = st.main;
      if (stick) scrollDown();
    }
    if (st.modalKey !== modalKey) {
      modalKey = st.modalKey;
      document.getElementById("modal").innerHTML = st.modal;
      var first = document.querySelector("#modal input:not([type=hidden]), #modal textarea, #modal select");
      if (first) first.focus();
    }
    if (follow && st.channels) {
      for (var i = 0; i < st.channels.length; i++) {
        var n = st.channels[i].name;
        if (n === "inc-" + follow || n.indexOf("inc-" + follow + "-") === 0) {
          try { sessionStorage.removeItem("sandbox.follow"); } catch (e) {}
          follow = 0;
          if (st.channels[i].id !== channel) location.href = pageURL(st.channels[i].id);
          return;
        }
      }
    }
  }

  function refresh() {
    if (inflight) return Promise.resolve();
    inflight = true;
    var q = new URLSearchParams({ user: user, channel: channel || "", tab: tab || "" });
    return fetch(prefix + "/state.json?" + q.toString(), { headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (st) { if (st) apply(st); })
      .catch(function () {})
      .finally(function () { inflight = false; });
  }

  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form.matches("form[method=post]")) return;
    e.preventDefault();
    var submitter = e.submitter;
    var action = (submitter && submitter.getAttribute("formaction")) || form.action;
    var body = new URLSearchParams(new FormData(form, submitter));
    var buttons = form.querySelectorAll("button");
    buttons.forEach(function (b) { b.disabled = true; });
    fetch(action, {
      method: "POST",
      headers: { Accept: "application/json", "Content-Type": "application/x-www-form-urlencoded" },
      body: body
    })
      .then(function (r) { return r.json().catch(function () { return { ok: false, error: r.statusText }; }); })
      .then(function (res) {
        if (res.errors) {
          Object.keys(res.errors).forEach(function (k) {
            var el = document.querySelector('#modal [data-error-for="' + CSS.escape(k) + '"]');
            if (el) { el.textContent = res.errors[k]; el.hidden = false; }
          });
        }
        flash(res.ok ? res.message : res.error, !res.ok);
        if (res.ok && form.id === "composer") form.reset();
        if (res.ok && form.closest("#modal")) { document.getElementById("modal").innerHTML = ""; modalKey = "?"; }
        if (res.incident) {
          follow = res.incident;
          try { sessionStorage.setItem("sandbox.follow", String(follow)); } catch (e) {}
        }
      })
      .catch(function (err) { flash(String(err), true); })
      .finally(function () {
        buttons.forEach(function (b) { b.disabled = false; });
        refresh();
      });
  });

  document.addEventListener("change", function (e) {
    var sel = e.target;
    if (!sel.matches("select[data-autosubmit]") || !sel.value) return;
    if (sel.form.method === "get") { sel.form.submit(); return; }
    sel.form.requestSubmit();
  });

  var main = document.getElementById("main");
  main.dataset.html = main.innerHTML;
  document.getElementById("sidebar").dataset.html = "";
  scrollDown();
  setInterval(refresh, 1000);
  refresh();
})();
