// Live refresh: reloads the page when the tiny stamp endpoint named by <body data-stamp-url>
// answers something else than the page was rendered with. The page works without it.
(function () {
  var body = document.body, url = body.dataset.stampUrl, seen = body.dataset.stamp;
  if (!url) return;
  setInterval(function () {
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.text() : seen; })
      .then(function (now) { if (now !== seen) location.reload(); })
      .catch(function () {});
  }, 1500);
})();
