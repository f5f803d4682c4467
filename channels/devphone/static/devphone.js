// The dev phone's page: the conversations refresh themselves every second,
// "Answer" picks the number to answer from, and the form posts without
// leaving the page. Without this script the form still works (the page
// reloads) and a reload shows what is new.
(function () {
  "use strict";
  var list = document.getElementById("conversations");
  var form = document.getElementById("answer");
  var status = document.getElementById("status");
  var version = list.getAttribute("data-version");
  var timer = null;

  function refresh() {
    clearTimeout(timer);
    fetch("/dev/phone/conversations?after=" + encodeURIComponent(version), { cache: "no-store" })
      .then(function (r) {
        if (r.status !== 200) {
          return null;
        }
        version = r.headers.get("X-Dev-Phone-Version") || version;
        return r.text();
      })
      .then(function (html) {
        if (html !== null) {
          list.innerHTML = html;
        }
      })
      .catch(function () {})
      .then(function () {
        timer = setTimeout(refresh, 1000);
      });
  }

  document.addEventListener("click", function (e) {
    var b = e.target.closest("[data-answer]");
    if (!b) {
      return;
    }
    form.elements.from.value = b.getAttribute("data-answer");
    form.elements.text.focus();
  });

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    status.textContent = "";
    fetch(form.action, {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      headers: { "X-Dev-Phone": "page" },
    })
      .then(function (r) {
        if (!r.ok) {
          return r.text().then(function (t) {
            throw new Error(t.trim() || r.statusText);
          });
        }
        form.elements.text.value = "";
        form.elements.text.focus();
        refresh();
      })
      .catch(function (err) {
        status.textContent = err.message;
      });
  });

  timer = setTimeout(refresh, 1000);
})();
