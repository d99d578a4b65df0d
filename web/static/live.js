// Keeps the connect page current without a reload: polls GET /status (the same data the page was
// rendered from, web/rep_view.py) and re-renders the Sync box, each provider's links and the recent
// changes in the words the templates use (_sync_status.html, _provider_links.html,
// _history.html). The page works without it.
(function () {
  "use strict";
  var body = document.body;
  var statusUrl = body.getAttribute("data-status-url");
  if (!statusUrl || !window.fetch) return;

  var BUSY_MS = 2000; // a run is queued or going: its result should show within seconds
  var IDLE_MS = 5000; // otherwise: a webhook change still appears within a few seconds
  var last = null;
  var serverSkewMs = 0; // server clock minus browser clock, so "12 s ago" is the server's

  function esc(text) {
    return String(text == null ? "" : text)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;");
  }

  function parseIso(value) { return new Date(value).getTime(); }

  function ago(value) {
    var seconds = Math.max(0, Math.floor((Date.now() + serverSkewMs - parseIso(value)) / 1000));
    if (seconds < 60) return seconds + " s ago";
    if (seconds < 3600) return Math.floor(seconds / 60) + " min ago";
    if (seconds < 86400) return Math.floor(seconds / 3600) + " h ago";
    return value.slice(0, 10) + " " + value.slice(11, 16) + " UTC";
  }

  function exact(value) { return value.slice(0, 10) + " " + value.slice(11, 19) + " UTC"; }

  function time(value) {
    return '<time datetime="' + esc(value) + '" title="' + esc(exact(value)) + '">' +
      esc(ago(value)) + "</time>";
  }

  function warnings(list) {
    if (!list || !list.length) return "";
    return '<ul class="warnings">' + list.map(function (w) {
      return "<li>" + esc(w) + "</li>";
    }).join("") + "</ul>";
  }

  function syncStatus(view) {
    var run = view.sync.last_run;
    var html = "";
    if (view.sync.state === "running" && run) {
      html += '<p class="sync-state state-running"><strong>Syncing now</strong> — started ' +
        time(run.started_at) + ".</p>";
    } else if (view.sync.state === "queued") {
      html += '<p class="sync-state state-queued"><strong>Sync queued</strong>; it starts in a ' +
        "moment.</p>";
    }
    if (run && run.outcome !== "running") {
      html += '<p class="last-sync outcome-' + esc(run.outcome) + '">Last sync started ' +
        time(run.started_at) + " and " + esc(run.outcome_text) +
        (run.finished_at ? " " + time(run.finished_at) : "") + ".</p>";
      html += '<p class="counts">' + run.created + " created, " + run.updated + " updated, " +
        run.deleted + " deleted, " + run.unchanged + " unchanged" +
        (run.failed ? ", <strong>" + run.failed + " failed</strong>" : "") + ".</p>";
      if (run.error) html += '<p class="problem">Problem: ' + esc(run.error) + "</p>";
    } else if (!run) {
      html += '<p class="last-sync">No sync has run yet.</p>';
    }
    return html + warnings(view.sync.warnings);
  }

  function providerLinks(view, card) {
    var html = "";
    if (card.links.length) {
      html += '<table class="links"><caption class="visually-hidden">' + esc(card.name) +
        ' links in Close</caption><thead><tr><th scope="col">Name</th>' +
        '<th scope="col">Duration</th><th scope="col">Booking URL</th>' +
        '<th scope="col">In Close</th></tr></thead><tbody>';
      card.links.forEach(function (link) {
        var url = link.href ? '<a href="' + esc(link.href) + '">' + esc(link.url) + "</a>"
          : esc(link.url);
        var state = link.pushed_at ? "synced " + time(link.pushed_at) : "not pushed yet";
        if (card.state === "needs_reauth") state += "; kept until you reconnect";
        else if (card.state === "disconnected") state += "; being removed";
        if (link.close_url) state += ' · <a href="' + esc(link.close_url) + '">open in Close</a>';
        html += '<tr><td class="link-name">' + esc(link.name) + '</td><td class="duration">' +
          (link.duration_in_minutes ? link.duration_in_minutes + " min" : "—") + "</td><td>" +
          url + "</td><td>" + state + "</td></tr>";
      });
      html += "</tbody></table>";
    } else if (card.connected) {
      html += "<p>No links in Close yet" +
        (view.sync.last_run ? "" : "; the first sync lists them here") + ".</p>";
    } else {
      html += "<p>None.</p>";
    }
    if (card.not_synced.length) {
      html += '<h3>Not in Close, and why</h3><ul class="not-synced">' +
        card.not_synced.map(function (item) {
          return "<li><strong>" + esc(item.name || "(no name)") + "</strong>: " +
            esc(item.reason_text) + "</li>";
        }).join("") + "</ul>";
    }
    return html + warnings(card.warnings);
  }

  // The words of each change come from the server (web/rep_history.py); only placed here.
  function recentChanges(view) {
    if (!view.history || !view.history.length) {
      return "<p>schedsync has not changed any of your links in Close yet.</p>";
    }
    return '<ul class="changes">' + view.history.map(function (change) {
      return '<li class="change change-' + esc(change.action) + '">' + esc(change.text) + ", " +
        time(change.at) + ', <span class="by">' + esc(change.by) + "</span>.</li>";
    }).join("") + "</ul>";
  }

  var WEBHOOK = {
    polling_only: "Updates: <strong>polling only</strong>.",
    active: "Updates: live, through a Calendly webhook.",
    disabled: "Updates: Calendly stopped the webhook; it is being re-created. Until then " +
      "changes arrive with the periodic sync."
  };

  function webhookState(card) {
    if (card.webhook == null || card.state !== "active") return "";
    var words = WEBHOOK[card.webhook] || "Updates: the Calendly webhook is being set up.";
    if (card.webhook === "polling_only") {
      words += ' <span class="webhook-reason">' + esc(card.webhook_reason || "") +
        "</span> Until then changes arrive with the periodic sync.";
    }
    return '<p class="webhook webhook-' + esc(card.webhook) + '">' + words + "</p>";
  }

  // What the server rendered that only a full render gets right (buttons, forms, the Close
  // banner): when any of it changes, the page is loaded again instead.
  function shape(view) {
    return JSON.stringify([view.account.close_state, view.providers.map(function (card) {
      return [card.provider, card.state, card.who || "", card.cleanup_pending];
    })]);
  }

  function pageShape() {
    var cards = Array.prototype.map.call(document.querySelectorAll("section.provider"),
      function (section) {
        return [section.id, section.getAttribute("data-state"), section.getAttribute("data-who"),
          section.getAttribute("data-cleanup") === "true"];
      });
    return JSON.stringify([body.getAttribute("data-close-state"), cards]);
  }

  function render(view) {
    if (shape(view) !== pageShape()) {
      // At most one reload in 10 s: a page that still differs after one is updated in place.
      var before = Number(window.sessionStorage.getItem("schedsync-reloaded") || 0);
      if (Date.now() - before > 10000) {
        window.sessionStorage.setItem("schedsync-reloaded", String(Date.now()));
        window.location.reload();
        return;
      }
    }
    var sync = document.getElementById("sync");
    sync.setAttribute("data-sync-state", view.sync.state);
    sync.querySelector(".sync-status").innerHTML = syncStatus(view);
    view.providers.forEach(function (card) {
      var section = document.querySelector("section#" + card.provider);
      if (!section) return;
      var links = section.querySelector(".links-region");
      if (links) links.innerHTML = providerLinks(view, card);
      var webhook = section.querySelector(".webhook-region");
      if (webhook) webhook.innerHTML = webhookState(card);
    });
    var changes = document.querySelector("#history .history-region");
    if (changes) changes.innerHTML = recentChanges(view);
  }

  function tickTimes() {
    Array.prototype.forEach.call(document.querySelectorAll("time[datetime]"), function (el) {
      el.textContent = ago(el.getAttribute("datetime"));
    });
  }

  function poll() {
    fetch(statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (answer) {
        if (answer.status === 401) { window.location.reload(); return null; }
        return answer.ok ? answer.json() : null;
      })
      .then(function (view) {
        if (view) {
          serverSkewMs = parseIso(view.now) - Date.now();
          var text = JSON.stringify([view.sync, view.providers, view.account, view.history]);
          if (text !== last) {
            last = text;
            render(view);
          }
        }
        schedule(view && view.sync.state !== "idle" ? BUSY_MS : IDLE_MS);
      })
      .catch(function () { schedule(IDLE_MS); });
  }

  function schedule(ms) { window.setTimeout(poll, document.hidden ? ms * 3 : ms); }

  window.setInterval(tickTimes, 1000);
  poll();
}());
