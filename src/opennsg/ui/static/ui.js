// OpenNSG UI: loads each page's server-rendered content, carrying the bearer token (kept in sessionStorage only)
// in the Authorization header of data requests; intercepts in-app links and forms so navigation stays in the page.
(function () {
  "use strict";
  var body = document.body;
  var base = body.dataset.base || "/ui";
  var needsToken = body.dataset.auth === "bearer";
  var KEY = "opennsg.ui.token";
  var content = document.getElementById("content");
  var panel = document.getElementById("token-panel");

  function token() {
    return needsToken ? sessionStorage.getItem(KEY) : null;
  }

  function request(url, options) {
    options = options || {};
    var headers = new Headers(options.headers || {});
    var bearer = token();
    if (bearer) headers.set("Authorization", "Bearer " + bearer);
    options.headers = headers;
    options.credentials = "omit";
    options.cache = "no-store";
    return fetch(url, options);
  }

  function showToken(message) {
    if (!panel) return;
    content.hidden = true;
    panel.hidden = false;
    var error = document.getElementById("token-error");
    error.hidden = !message;
    error.textContent = message || "";
    document.getElementById("sign-out").hidden = true;
    document.title = "Sign in · OpenNSG";
    document.getElementById("token-input").focus();
  }

  function signedIn() {
    if (panel) panel.hidden = true;
    content.hidden = false;
    document.getElementById("sign-out").hidden = !needsToken;
  }

  function setContent(html) {
    content.innerHTML = html;
    var titled = content.querySelector("[data-title]");
    if (titled) document.title = titled.dataset.title + " · OpenNSG";
    markNavigation();
    enhance(content);
  }

  function markNavigation() {
    var head = location.pathname.slice(base.length + 1).split("/")[0];
    var section = { "": "Topology", nic: "Topology", nsg: "Topology", verify: "Verify", reach: "Reachability",
      diff: "Diff", flowlogs: "Flow logs" }[head];
    document.querySelectorAll("nav a[data-section]").forEach(function (a) {
      if (a.dataset.section === section) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    });
  }

  function load(target) {
    // Fetch the content of ``target`` (default: the current address); the address changes once it has arrived.
    var url = new URL(target || location.href, location.href);
    var page = url.pathname.slice(base.length + 1);
    content.setAttribute("aria-busy", "true");
    return request(base + "/api/page/" + page + url.search).then(function (response) {
      if (response.status === 401) {
        sessionStorage.removeItem(KEY);
        showToken("The service refused the token; enter a valid one.");
        return;
      }
      return response.text().then(function (html) {
        if (target) history.pushState(null, "", url.pathname + url.search);
        signedIn();
        setContent(html);
        content.dataset.loaded = "true";
        if (target) window.scrollTo(0, 0);
      });
    }).catch(function (error) {
      content.innerHTML = '<p class="problems" role="alert"></p>';
      content.firstChild.textContent = "Cannot reach the OpenNSG server: " + error.message;
    }).finally(function () {
      content.removeAttribute("aria-busy");
    });
  }

  function go(url) {
    return load(url);
  }

  function readFiles(input, folder) {
    // Files of a file input, and of a folder input beside it (their names keep the folder: module/sub/main.tf).
    var files = Array.prototype.slice.call(input.files || []);
    if (folder) files = files.concat(Array.prototype.slice.call(folder.files || []));
    return Promise.all(files.map(function (file) {
      return file.text().then(function (text) { return { name: file.webkitRelativePath || file.name, text: text }; });
    }));
  }

  function post(url, payload, target) {
    target.innerHTML = '<p class="loading">Working…</p>';
    return request(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(payload),
    }).then(function (response) {
      if (response.status === 401) {
        sessionStorage.removeItem(KEY);
        showToken("The service refused the token; enter a valid one.");
        return;
      }
      return response.text().then(function (html) {
        target.innerHTML = html;
        enhance(target);
      });
    });
  }

  function enhance(root) {
    root.querySelectorAll(".topology .nsg").forEach(function (node) {
      var group = node.dataset.group;
      var edges = root.querySelectorAll('.topology-drawing .edge[data-group="' + group + '"]');
      node.addEventListener("mouseenter", function () { edges.forEach(function (e) { e.classList.add("hot"); }); });
      node.addEventListener("mouseleave", function () { edges.forEach(function (e) { e.classList.remove("hot"); }); });
    });
    var verify = root.querySelector("#verify-form");
    if (verify) {
      verify.addEventListener("submit", function (event) {
        event.preventDefault();
        var query = new URLSearchParams(new FormData(verify)).toString();
        go(base + "/verify?" + query);
      });
    }
    var diff = root.querySelector("#diff-form");
    if (diff) {
      diff.addEventListener("submit", function (event) {
        event.preventDefault();
        var kind = diff.querySelector('input[name="old-kind"]:checked');
        var newKind = diff.querySelector('input[name="new-kind"]:checked');
        var oldSide = readFiles(diff.elements.old, diff.elements["old-folder"]);
        if (kind && kind.value === "current") oldSide = Promise.resolve("current");
        if (kind && kind.value === "revision") oldSide = Promise.resolve({ revision: diff.elements["old-revision"].value });
        var newSide = newKind && newKind.value === "current" ? Promise.resolve("current") : readFiles(diff.elements["new"], diff.elements["new-folder"]);
        Promise.all([oldSide, newSide]).then(function (sides) {
          return post(base + "/api/diff", { old: sides[0], "new": sides[1] }, document.getElementById("diff-result"));
        });
      });
    }
    var revision = root.querySelector("#revision-form");
    if (revision) {
      revision.addEventListener("submit", function (event) {
        event.preventDefault();
        request(base + "/api/revisions", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ label: revision.elements.label.value }),
        }).then(function (response) {
          return response.json().then(function (answer) {
            if (!response.ok) {
              var message = (answer.error && answer.error.message) || "The revision was not saved.";
              document.getElementById("diff-result").textContent = message;
              return;
            }
            return load(null);
          });
        });
      });
    }
    var logs = root.querySelector("#flowlogs-form");
    if (logs) {
      logs.addEventListener("submit", function (event) {
        event.preventDefault();
        readFiles(logs.elements.logs).then(function (files) {
          return post(base + "/api/flowlogs", { logs: files }, document.getElementById("flowlogs-result"));
        });
      });
    }
  }

  document.addEventListener("click", function (event) {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
    var link = event.target.closest && event.target.closest("a");
    if (!link || link.target) return;
    var href = link.getAttribute("href");
    if (!href || href.charAt(0) === "#") return;
    var url = new URL(href, location.href);
    if (url.origin !== location.origin || url.pathname.indexOf(base + "/") !== 0) return;
    if (url.pathname.indexOf(base + "/static/") === 0 || url.pathname.indexOf(base + "/api/") === 0) return;
    event.preventDefault();
    go(url.pathname + url.search);
  });

  window.addEventListener("popstate", function () { load(null); });

  var form = document.getElementById("token-form");
  if (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var input = document.getElementById("token-input");
      var candidate = input.value.trim();
      if (!candidate) return;
      fetch(base + "/api/whoami", { headers: { Authorization: "Bearer " + candidate }, credentials: "omit", cache: "no-store" })
        .then(function (response) {
          return response.text().then(function () { return response; });  // read it all: nothing left in flight
        })
        .then(function (response) {
          if (!response.ok) {
            showToken("The service refused this token.");
            return;
          }
          sessionStorage.setItem(KEY, candidate);
          input.value = "";
          signedIn();
          return load(null);
        });
    });
    document.getElementById("sign-out").addEventListener("click", function () {
      sessionStorage.removeItem(KEY);
      content.innerHTML = "";
      showToken("");
    });
  }

  if (needsToken && !token()) {
    showToken("");
  } else if (content.dataset.loaded !== "true") {
    load(null);
  } else {
    signedIn();
    markNavigation();
    enhance(content);
  }
})();
