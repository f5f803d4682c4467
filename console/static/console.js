// Tend console: live-update status, drafts kept over a sign-out, and
// keyboard shortcuts. Plain script, no build; htmx does the requests.
(function () {
  "use strict";

  var status = function (text) {
    var el = document.getElementById("live-status");
    if (!el) return;
    el.textContent = text;
    el.hidden = !text;
  };

  // ---- drafts ----
  // A draft is kept in this tab's sessionStorage only while the member
  // signs in again, and put back (then removed) on the page it came from.
  function saveDrafts() {
    document.querySelectorAll("form[data-draft] textarea").forEach(function (t) {
      if (t.value.trim()) {
        sessionStorage.setItem("draft:" + t.form.dataset.draft, t.value);
      }
    });
  }
  function restoreDrafts() {
    document.querySelectorAll("form[data-draft] textarea").forEach(function (t) {
      var key = "draft:" + t.form.dataset.draft;
      var v = sessionStorage.getItem(key);
      if (v !== null) {
        t.value = v;
        sessionStorage.removeItem(key);
      }
    });
  }
  function signedOut() {
    saveDrafts();
    location.assign("/console/login?next=" + encodeURIComponent(location.pathname + location.search));
  }

  document.addEventListener("DOMContentLoaded", restoreDrafts);
  // The session ended: the stream says so (sse-close), or a request got
  // 401 with HX-Trigger: signedout.
  document.addEventListener("signedout", signedOut);
  document.addEventListener("htmx:sseClose", function (e) {
    if (e.detail && e.detail.type === "message") signedOut();
  });

  // ---- live status ----
  var opened = 0;
  document.addEventListener("htmx:sseOpen", function () {
    status("");
    document.body.dataset.live = "on";
    if (opened++ > 0) {
      // Back after a break: what changed meanwhile was not heard.
      document.querySelectorAll("[hx-trigger*='sse:all']").forEach(function (el) {
        htmx.trigger(el, "sse:all");
      });
    }
  });
  document.addEventListener("htmx:sseError", function () {
    document.body.dataset.live = "off";
    status("Live updates paused: reconnecting…");
  });
  document.addEventListener("htmx:responseError", function (e) {
    if (e.detail.xhr.status !== 401) status("Not done: " + e.detail.xhr.responseText.trim());
  });
  document.addEventListener("htmx:sendError", function () {
    status("Not sent: the server did not answer. Your text is still here.");
  });

  // ---- keyboard shortcuts ----
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("tr[data-ticket]")); }
  var selected = sessionStorage.getItem("selected") || "";
  function mark() {
    rows().forEach(function (r) {
      var on = r.dataset.ticket === selected;
      r.classList.toggle("selected", on);
      r.setAttribute("aria-selected", on ? "true" : "false");
    });
  }
  document.addEventListener("DOMContentLoaded", mark);
  document.addEventListener("htmx:afterSettle", mark); // the list was refreshed
  function move(by) {
    var rs = rows();
    if (!rs.length) return;
    var i = rs.findIndex(function (r) { return r.dataset.ticket === selected; });
    i = i < 0 ? 0 : Math.max(0, Math.min(rs.length - 1, i + by));
    selected = rs[i].dataset.ticket;
    sessionStorage.setItem("selected", selected);
    mark();
    rs[i].scrollIntoView({ block: "nearest" });
  }
  function post(url) {
    htmx.ajax("POST", url, { source: document.body, swap: "none" });
  }
  // A key that opens a field acts when it is released, so that its own
  // letter is not typed into the field.
  var opening = null;
  function focusKey(k) {
    var el = document.querySelector("[data-key='" + k + "']");
    if (!el) return false;
    opening = { key: k, el: el };
    return true;
  }
  document.addEventListener("keyup", function (e) {
    if (!opening || e.key !== opening.key) return;
    var el = opening.el;
    opening = null;
    el.focus();
    if (el.tagName === "A") el.click();
  });
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    var t = e.target;
    if (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName)) {
      if (e.key === "Escape") t.blur();
      return;
    }
    var help = document.getElementById("shortcuts");
    switch (e.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "o":
      case "Enter":
        if (!selected || !rows().length) return;
        location.assign("/console/tickets/" + selected);
        break;
      case "c":
        var claim = document.querySelector("form[data-claim]");
        if (claim) post(claim.getAttribute("action"));
        else if (selected && rows().length) post("/console/tickets/" + selected + "/claim");
        else return;
        break;
      case "r": case "n": case "h": case "u":
        if (!focusKey(e.key)) return;
        break;
      case "?":
        if (help) help.showModal();
        break;
      default:
        return;
    }
    e.preventDefault();
  });
  document.addEventListener("click", function (e) {
    if (e.target.closest("[data-shortcuts]")) document.getElementById("shortcuts").showModal();
  });
})();
