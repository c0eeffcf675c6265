// The jobs page: a plain script, no build step, no dependency. Every value from the API
// reaches the document as text (textContent, text nodes, attribute values we choose):
// nothing is ever parsed as HTML. The Content-Security-Policy allows this file only.
"use strict";

(function () {
  const ENDED = ["completed", "completed_with_warnings", "partial_success", "failed", "cancelled"];
  const PAGE_SIZE = 20;
  const HISTORY_PAGE_SIZE = 20;
  // The light /status poll of jobs that have not ended: quick while they move, slower
  // while they do not, never more than this far apart.
  const POLL_MIN_MS = 1000;
  const POLL_MAX_MS = 15000;
  const POLL_FACTOR = 1.6;
  const TOKEN_KEY = "jobs.token";
  const ORGANIZATION_KEY = "jobs.organization";
  // Fields the page shows in their own places; any other field is listed as it is.
  const KNOWN_FIELDS = [
    "job_id", "job_type", "status", "total_items", "processed_items", "failed_items",
    "warned_items", "progress_percentage", "success_rate", "metadata", "triggered_by",
    "created_at", "started_at", "completed_at", "duration_seconds", "error_message",
    "errors", "warnings",
  ];

  const $ = (id) => document.getElementById(id);
  // The API beside the page: the same origin, under the same stage prefix if any.
  const base = location.pathname.replace(/[^/]*$/, "");

  // ---- elements, from text only ------------------------------------------------------

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "text") node.textContent = String(value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  function show(node, visible) {
    node.hidden = !visible;
  }

  function setState(node, text, kind) {
    node.textContent = text || "";
    node.className = "state" + (kind ? " state-" + kind : "");
  }

  function notice(text) {
    $("notice").textContent = text || "";
  }

  // ---- formatting ------------------------------------------------------------------

  function statusLabel(status) {
    return String(status || "unknown").replace(/_/g, " ");
  }

  function percent(value) {
    const number = Number(value) || 0;
    return (Math.round(number * 100) / 100).toString() + "%";
  }

  function localTime(iso) {
    if (!iso) return "—";
    const date = new Date(iso);
    return isNaN(date) ? String(iso) : date.toLocaleString();
  }

  function age(iso) {
    const date = new Date(iso);
    if (!iso || isNaN(date)) return "—";
    const seconds = Math.max(0, (Date.now() - date.getTime()) / 1000);
    if (seconds < 60) return Math.floor(seconds) + " s ago";
    if (seconds < 3600) return Math.floor(seconds / 60) + " min ago";
    if (seconds < 86400) return Math.floor(seconds / 3600) + " h ago";
    return Math.floor(seconds / 86400) + " d ago";
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined || isNaN(seconds)) return "—";
    const s = Math.max(0, Number(seconds));
    if (s < 60) return (Math.round(s * 10) / 10) + " s";
    const m = Math.floor(s / 60);
    if (m < 60) return m + " min " + Math.floor(s % 60) + " s";
    const h = Math.floor(m / 60);
    return h + " h " + (m % 60) + " min";
  }

  function timeElement(iso, text) {
    return el("time", { datetime: iso || null, title: iso ? localTime(iso) : null, text: text });
  }

  function runningDuration(job) {
    if (job.duration_seconds !== null && job.duration_seconds !== undefined && ENDED.includes(job.status)) {
      return job.duration_seconds;
    }
    if (!job.started_at) return null;
    return (Date.now() - new Date(job.started_at).getTime()) / 1000;
  }

  function json(value) {
    return JSON.stringify(value, null, 2);
  }

  // ---- identity ----------------------------------------------------------------------

  function token() {
    return sessionStorage.getItem(TOKEN_KEY);
  }

  function organization() {
    return sessionStorage.getItem(ORGANIZATION_KEY);
  }

  // The claims of a JWT, read for display only (the API verifies it): the user and the
  // organizations to offer. Opaque tokens and unreadable cookies give nothing.
  function claimsOf(jwt) {
    try {
      const part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      const text = atob(part + "===".slice((part.length + 3) % 4));
      const claims = JSON.parse(decodeURIComponent(Array.from(text, (c) =>
        "%" + c.charCodeAt(0).toString(16).padStart(2, "0")).join("")));
      return claims && typeof claims === "object" ? claims : {};
    } catch (error) {
      return {};
    }
  }

  function currentClaims() {
    if (token()) return claimsOf(token());
    const cookie = document.cookie.split(";").map((c) => c.trim())
      .find((c) => c.startsWith("stytch_session_jwt="));
    return cookie ? claimsOf(cookie.slice("stytch_session_jwt=".length)) : {};
  }

  // The organizations claim in any of the forms the API reads it.
  function organizationsOf(claims) {
    const value = claims.organizations;
    if (Array.isArray(value)) return value.map(String);
    if (typeof value !== "string") return [];
    const text = value.trim().replace(/^\[|\]$/g, "");
    return text.split(/[\s,"]+/).filter(Boolean);
  }

  function renderIdentity() {
    const claims = currentClaims();
    const how = token() ? "pasted token (this tab only)" : "session cookie";
    const who = claims.sub ? String(claims.sub) + " · " : "";
    $("identity-text").textContent = who + "signed in with the " + how;
    const organizations = organizationsOf(claims);
    const select = $("organization");
    select.replaceChildren(...organizations.map((org) =>
      el("option", { value: org, selected: org === organization(), text: org })));
    const several = organizations.length > 1;
    show(select, several);
    show($("organization-label"), several);
    show($("sign-out"), Boolean(token()));
    show($("identity"), true);
  }

  // ---- the API -----------------------------------------------------------------------

  class Failure extends Error {
    constructor(status, detail, retryAfter) {
      super(typeof detail === "string" ? detail : "HTTP " + status);
      this.status = status;
      this.detail = detail;
      this.retryAfter = retryAfter;
    }
  }

  async function api(path, options) {
    const headers = { Accept: "application/json" };
    if (token()) headers.Authorization = "Bearer " + token();
    if (organization()) headers["X-Organization-ID"] = organization();
    if (options && options.body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(base + path, {
        method: (options && options.method) || "GET",
        headers: headers,
        body: options && options.body !== undefined ? JSON.stringify(options.body) : undefined,
        credentials: "same-origin",
        cache: "no-store",
        redirect: "error",
      });
    } catch (error) {
      throw new Failure(0, "The service cannot be reached", 5);
    }
    let body = null;
    try {
      body = await response.json();
    } catch (error) {
      body = null;
    }
    if (response.ok) return body;
    const retryAfter = Number(response.headers.get("Retry-After")) || 5;
    throw new Failure(response.status, body && body.detail, retryAfter);
  }

  function needsOrganization(failure) {
    return failure.status === 422 && Array.isArray(failure.detail) && failure.detail.some((d) =>
      Array.isArray(d.loc) && d.loc[0] === "header" && d.loc[1] === "x-organization-id");
  }

  // What a failure means for the person looking, and what happens next. Returns true
  // when the page took over (sign-in, organization picker), false when `state` says it.
  function explain(failure, state, retry) {
    if (failure.status === 401) {
      const refused = token() !== null;
      if (refused) sessionStorage.removeItem(TOKEN_KEY);
      showSignIn(refused
        ? "The token was refused (" + String(failure.detail) + "). Paste a valid one."
        : "You are not signed in (" + String(failure.detail || "Not authenticated") + ").");
      return true;
    }
    if (needsOrganization(failure) || (failure.status === 403 && failure.detail === "Organization not allowed")) {
      if (failure.status === 403) sessionStorage.removeItem(ORGANIZATION_KEY);
      showOrganizationPicker();
      return true;
    }
    if (failure.status === 0 || failure.status === 429 || failure.status >= 500) {
      const wait = Math.min(Math.max(failure.retryAfter || 5, 1), 60);
      setState(state, "The service is unavailable (" + String(failure.message) + "); retrying in " + wait + " s…", "error");
      const generation = view.generation;
      setTimeout(() => { if (generation === view.generation) retry(); }, wait * 1000);
      return false;
    }
    const detail = typeof failure.detail === "string" ? failure.detail : json(failure.detail);
    setState(state, "Error " + failure.status + ": " + detail, "error");
    return false;
  }

  // ---- views ---------------------------------------------------------------------------

  const view = { generation: 0, name: null };
  const panels = ["sign-in", "organization-needed", "list-view", "job-view"];

  function showOnly(id) {
    for (const panel of panels) show($(panel), panel === id);
  }

  function leaveView() {
    view.generation += 1;
    poller.stop();
  }

  function showSignIn(why) {
    leaveView();
    view.name = "sign-in";
    show($("identity"), false);
    $("sign-in-why").textContent = why;
    showOnly("sign-in");
    $("token").focus();
  }

  function showOrganizationPicker() {
    leaveView();
    view.name = "organization";
    renderIdentity();
    const organizations = organizationsOf(currentClaims());
    const choice = $("organization-choice");
    choice.replaceChildren(...organizations.map((org) => el("option", { value: org, text: org })));
    show(choice, organizations.length > 0);
    show($("organization-typed-label"), true);
    showOnly("organization-needed");
    (organizations.length ? choice : $("organization-typed")).focus();
  }

  function route() {
    const match = /^#job\/([^/?]+)$/.exec(location.hash);
    if (match) openJob(decodeURIComponent(match[1]));
    else openList();
  }

  // ---- polling ---------------------------------------------------------------------------

  function signature(job) {
    return JSON.stringify([job.status, job.progress_percentage, job.processed_items,
      job.failed_items, job.warned_items, job.total_items]);
  }

  // One loop for the jobs on screen that have not ended: each round reads their /status,
  // hands any change to `onChange`, and drops the jobs that ended. Nothing running,
  // nothing sent.
  const poller = {
    ids: new Map(), // job id -> what was last seen of it: { seen, updatedAt }
    timer: null,
    delay: POLL_MIN_MS,
    onChange: null,

    start(jobs, onChange) {
      this.stop();
      this.onChange = onChange;
      for (const job of jobs) {
        if (!ENDED.includes(job.status)) {
          this.ids.set(job.job_id, { seen: signature(job), updatedAt: job.updated_at || null });
        }
      }
      this.delay = POLL_MIN_MS;
      this.schedule();
    },

    stop() {
      clearTimeout(this.timer);
      this.timer = null;
      this.ids = new Map();
    },

    schedule() {
      clearTimeout(this.timer);
      this.timer = this.ids.size ? setTimeout(() => this.round(), this.delay) : null;
    },

    async round() {
      const generation = view.generation;
      let changed = false;
      let wait = null;
      await Promise.all(Array.from(this.ids.keys(), async (id) => {
        try {
          const status = await api("api/jobs/" + encodeURIComponent(id) + "/status");
          if (generation !== view.generation) return;
          const last = this.ids.get(id);
          // A full job carries no updated_at: the first /status is compared by its values.
          const moved = last.updatedAt === null ? last.seen !== signature(status) : last.updatedAt !== status.updated_at;
          this.ids.set(id, { seen: signature(status), updatedAt: status.updated_at });
          if (moved) {
            changed = true;
            await this.onChange(status);
          }
          if (ENDED.includes(status.status)) this.ids.delete(id);
        } catch (failure) {
          if (failure.status === 404) this.ids.delete(id);
          else if (failure.status === 401 || failure.status === 403 || needsOrganization(failure)) {
            if (generation === view.generation) explain(failure, $(view.name === "job" ? "job-state" : "list-state"), route);
          } else wait = Math.max(wait || 0, (failure.retryAfter || 5) * 1000);
        }
      }));
      if (generation !== view.generation) return;
      this.delay = wait || (changed ? POLL_MIN_MS : Math.min(this.delay * POLL_FACTOR, POLL_MAX_MS));
      this.schedule();
    },
  };

  // ---- the list ------------------------------------------------------------------------

  const list = { cursors: [null], page: 0, filters: {}, rows: new Map() };

  function listQuery() {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(list.filters)) {
      if (value) params.set(name, value);
    }
    params.set("limit", String(PAGE_SIZE));
    const cursor = list.cursors[list.page];
    if (cursor) params.set("cursor", cursor);
    return "api/jobs/?" + params.toString();
  }

  function readFilters() {
    const instant = (id) => {
      const value = $(id).value;
      return value ? new Date(value).toISOString() : "";
    };
    return {
      status: $("f-status").value,
      job_type: $("f-type").value.trim(),
      triggered_by: $("f-triggered-by").value.trim(),
      created_after: instant("f-after"),
      created_before: instant("f-before"),
    };
  }

  function openList() {
    leaveView();
    view.name = "list";
    renderIdentity();
    showOnly("list-view");
    loadList();
  }

  async function loadList() {
    const generation = view.generation;
    const state = $("list-state");
    setState(state, "Loading jobs…", "loading");
    $("list-view").setAttribute("aria-busy", "true");
    let page;
    try {
      page = await api(listQuery());
    } catch (failure) {
      if (generation !== view.generation) return;
      $("list-view").removeAttribute("aria-busy");
      if (!explain(failure, state, loadList)) show($("jobs"), false);
      return;
    }
    if (generation !== view.generation) return;
    $("list-view").removeAttribute("aria-busy");
    renderList(page);
  }

  function renderList(page) {
    const items = Array.isArray(page.items) ? page.items : [];
    const filtered = Object.values(list.filters).some(Boolean);
    if (filtered) $("filter-box").open = true;
    if (items.length === 0) {
      setState($("list-state"), list.page > 0 ? "No more jobs." :
        filtered ? "No jobs match these filters." : "No jobs yet. Jobs created through the API appear here.", "empty");
    } else {
      const running = items.filter((job) => !ENDED.includes(job.status)).length;
      setState($("list-state"), items.length + " job" + (items.length === 1 ? "" : "s") + " on this page" +
        (running ? ", " + running + " running (refreshing)." : "."));
    }
    list.rows = new Map();
    $("jobs-body").replaceChildren(...items.map((job) => {
      const row = jobRow(job);
      list.rows.set(job.job_id, { row: row, job: job });
      return row;
    }));
    show($("jobs"), items.length > 0);
    if (page.next_cursor) list.cursors[list.page + 1] = page.next_cursor;
    else list.cursors.length = list.page + 1;
    show($("page-next"), Boolean(page.next_cursor));
    show($("page-previous"), list.page > 0);
    show($("page-first"), list.page > 1);
    $("page-number").textContent = list.page > 0 || page.next_cursor ? "Page " + (list.page + 1) : "";
    poller.start(items, updateRow);
  }

  function cell(label, ...children) {
    return el("td", { "data-label": label }, ...children);
  }

  function progressBar(job, label) {
    const value = Math.max(0, Math.min(100, Number(job.progress_percentage) || 0));
    return el("progress", { max: "100", value: String(value), "aria-label": label });
  }

  function itemsText(job) {
    let text = (Number(job.processed_items) || 0) + " / " + (Number(job.total_items) || 0);
    if (Number(job.failed_items)) text += " · " + job.failed_items + " failed";
    if (Number(job.warned_items)) text += " · " + job.warned_items + " warned";
    return text;
  }

  function statusBadge(status) {
    return el("span", { class: "status status-" + String(status).replace(/[^a-z_]/g, ""), text: statusLabel(status) });
  }

  function jobRow(job) {
    const id = String(job.job_id);
    const link = el("a", { href: "#job/" + encodeURIComponent(id), class: "job-link", "aria-label": "Job " + id, title: id, text: id.slice(0, 8) + "…" + id.slice(-4) });
    const triggered = job.triggered_by === null || job.triggered_by === undefined ? "—" : String(job.triggered_by);
    return el("tr", { "data-job-id": id, "data-status": job.status },
      cell("Job", link),
      cell("Status", statusBadge(job.status)),
      cell("Progress", el("span", { class: "progress-cell" },
        progressBar(job, "Progress of job " + id),
        el("span", { class: "percent", text: percent(job.progress_percentage) }))),
      cell("Items", el("span", { class: "items", text: itemsText(job) })),
      cell("Type", el("span", { class: "type", text: String(job.job_type) })),
      cell("Triggered by", el("span", { class: "triggered-by", text: triggered })),
      cell("Created", timeElement(job.created_at, age(job.created_at))),
      cell("Duration", el("span", { class: "duration", text: duration(runningDuration(job)) })));
  }

  async function updateRow(status) {
    const entry = list.rows.get(status.job_id);
    if (!entry) return;
    let job = Object.assign({}, entry.job, status);
    if (ENDED.includes(status.status)) {
      // Once: the ended job in full (its completion time and final duration).
      try {
        job = await api("api/jobs/" + encodeURIComponent(status.job_id));
      } catch (failure) {
        // The /status answer is enough to show it ended.
      }
    }
    const row = jobRow(job);
    entry.row.replaceWith(row);
    list.rows.set(status.job_id, { row: row, job: job });
  }

  // ---- one job -------------------------------------------------------------------------

  const detail = { id: null, job: null, history: {} };

  function openJob(id) {
    leaveView();
    view.name = "job";
    detail.id = id;
    detail.job = null;
    detail.history = {
      errors: { cursors: [null], page: 0 },
      warnings: { cursors: [null], page: 0 },
    };
    renderIdentity();
    showOnly("job-view");
    $("job-title").textContent = "Job " + id;
    show($("job-body"), false);
    $("job-title").focus();
    loadJob(true);
  }

  async function loadJob(withHistory) {
    const generation = view.generation;
    const state = $("job-state");
    if (!detail.job) setState(state, "Loading the job…", "loading");
    let job;
    try {
      job = await api("api/jobs/" + encodeURIComponent(detail.id));
    } catch (failure) {
      if (generation !== view.generation) return;
      if (failure.status === 404) {
        setState(state, "No such job in this organization.", "error");
        show($("job-body"), false);
        return;
      }
      explain(failure, state, () => loadJob(withHistory));
      return;
    }
    if (generation !== view.generation) return;
    setState(state, ENDED.includes(job.status) ? "" : "This job is running: refreshing while it runs.");
    renderJob(job);
    if (withHistory) {
      loadHistory("errors");
      loadHistory("warnings");
    } else {
      for (const kind of ["errors", "warnings"]) {
        const history = detail.history[kind];
        if (history.page === 0 && !history.cursors[1]) loadHistory(kind);
      }
    }
    if (!ENDED.includes(job.status) && poller.ids.size === 0) {
      poller.start([job], () => loadJob(false));
    }
  }

  function fact(list, term, value) {
    list.append(el("dt", { text: term }), el("dd", { text: value }));
  }

  function renderJob(job) {
    detail.job = job;
    const metadata = job.metadata && typeof job.metadata === "object" ? job.metadata : {};
    const statusNode = $("job-status");
    statusNode.className = "status status-" + String(job.status).replace(/[^a-z_]/g, "");
    statusNode.textContent = statusLabel(job.status);
    const bar = $("job-progress");
    bar.value = Math.max(0, Math.min(100, Number(job.progress_percentage) || 0));
    bar.setAttribute("aria-label", "Progress of job " + job.job_id);
    $("job-percent").textContent = percent(job.progress_percentage);
    const errorMessage = $("job-error-message");
    errorMessage.textContent = job.error_message ? "Error: " + String(job.error_message) : "";
    show(errorMessage, Boolean(job.error_message));

    const facts = $("job-facts");
    facts.replaceChildren();
    const attempted = (Number(job.processed_items) || 0) + (Number(job.failed_items) || 0);
    const seconds = runningDuration(job);
    fact(facts, "Type", String(job.job_type));
    fact(facts, "Items", itemsText(job));
    fact(facts, "Processed", String(job.processed_items));
    fact(facts, "Failed", String(job.failed_items));
    fact(facts, "Warned", String(job.warned_items));
    fact(facts, "Total", String(job.total_items));
    fact(facts, "Success rate", percent(job.success_rate));
    fact(facts, "Rate", seconds > 0 ? (Math.round(attempted / seconds * 100) / 100) + " items/s" : "—");
    fact(facts, "Stage", metadata.stage === undefined ? "—" : typeof metadata.stage === "string" ? metadata.stage : json(metadata.stage));
    fact(facts, "Last message", metadata.last_message === undefined ? "—" :
      typeof metadata.last_message === "string" ? metadata.last_message : json(metadata.last_message));
    fact(facts, "Triggered by", job.triggered_by === null || job.triggered_by === undefined ? "—" : String(job.triggered_by));
    fact(facts, "Created", localTime(job.created_at));
    fact(facts, "Started", localTime(job.started_at));
    fact(facts, "Completed", localTime(job.completed_at));
    fact(facts, "Duration", duration(seconds));
    $("job-metadata").textContent = json(metadata);

    const extra = $("job-extra");
    extra.replaceChildren();
    for (const [name, value] of Object.entries(job)) {
      if (KNOWN_FIELDS.includes(name)) continue;
      fact(extra, name, typeof value === "string" && /_at$/.test(name) ? localTime(value) :
        typeof value === "string" ? value : json(value));
    }
    show($("job-extra-wrap"), extra.childElementCount > 0);
    show($("cancel"), !ENDED.includes(job.status));
    show($("job-body"), true);
  }

  async function loadHistory(kind) {
    const generation = view.generation;
    const history = detail.history[kind];
    const state = $(kind + "-state");
    const params = new URLSearchParams({ limit: String(HISTORY_PAGE_SIZE) });
    const cursor = history.cursors[history.page];
    if (cursor) params.set("cursor", cursor);
    let page;
    try {
      page = await api("api/jobs/" + encodeURIComponent(detail.id) + "/" + kind + "?" + params.toString());
    } catch (failure) {
      if (generation === view.generation) explain(failure, state, () => loadHistory(kind));
      return;
    }
    if (generation !== view.generation) return;
    const items = Array.isArray(page.items) ? page.items : [];
    const first = history.page * HISTORY_PAGE_SIZE;
    if (items.length === 0) {
      setState(state, history.page ? "No more " + kind + "." : "No " + kind + " recorded.", "empty");
    } else {
      setState(state, kind.charAt(0).toUpperCase() + kind.slice(1) + " " + (first + 1) + "–" +
        (first + items.length) + ", oldest first.");
    }
    $(kind).setAttribute("start", String(first + 1));
    $(kind).replaceChildren(...items.map(issueItem));
    if (page.next_cursor) history.cursors[history.page + 1] = page.next_cursor;
    else history.cursors.length = history.page + 1;
    show($(kind + "-next"), Boolean(page.next_cursor));
    show($(kind + "-first"), history.page > 0);
  }

  function issueItem(issue) {
    const where = [issue.entity_type, issue.entity_key].filter((x) => x !== null && x !== undefined).map(String).join(" ");
    return el("li", { class: "issue" },
      el("div", { class: "issue-head" },
        timeElement(issue.timestamp, localTime(issue.timestamp)),
        el("span", { class: "issue-type", text: String(issue.error_type) }),
        el("span", { class: "issue-entity", text: where }),
        issue.step !== null && issue.step !== undefined ? el("span", { class: "issue-step", text: "step " + String(issue.step) }) : null),
      el("p", { class: "issue-message", text: String(issue.message) }),
      issue.details !== null && issue.details !== undefined ? el("pre", { class: "json", text: json(issue.details) }) : null);
  }

  async function cancelJob() {
    const generation = view.generation;
    const id = detail.id;
    $("cancel").disabled = true;
    setState($("job-state"), "Cancelling…", "loading");
    try {
      const job = await api("api/jobs/" + encodeURIComponent(id) + "/cancel", { method: "POST" });
      if (generation !== view.generation) return;
      poller.stop();
      renderJob(job);
      setState($("job-state"), "The job was cancelled.");
      notice("Job " + id + " cancelled.");
      $("job-title").focus(); // the Cancel button that had the focus is gone
    } catch (failure) {
      if (generation !== view.generation) return;
      if (failure.status === 409) {
        setState($("job-state"), "Not cancelled: " + String(failure.detail), "error");
        loadJob(false);
      } else {
        explain(failure, $("job-state"), () => loadJob(false));
      }
    } finally {
      $("cancel").disabled = false;
    }
  }

  // ---- wiring ----------------------------------------------------------------------------

  function start() {
    let zone = "";
    try {
      zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    } catch (error) {
      zone = "";
    }
    $("timezone").textContent = "Times are shown in your browser's time zone" + (zone ? " (" + zone + ")." : ".");

    $("token-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const value = $("token").value.trim().replace(/^Bearer\s+/i, "");
      $("token").value = "";
      if (!value) return;
      sessionStorage.setItem(TOKEN_KEY, value);
      sessionStorage.removeItem(ORGANIZATION_KEY);
      notice("Using the pasted token in this tab.");
      route();
    });
    $("retry-cookie").addEventListener("click", () => {
      sessionStorage.removeItem(TOKEN_KEY);
      route();
    });
    $("sign-out").addEventListener("click", () => {
      sessionStorage.removeItem(TOKEN_KEY);
      sessionStorage.removeItem(ORGANIZATION_KEY);
      notice("The token was forgotten.");
      route();
    });
    $("organization-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const typed = $("organization-typed").value.trim();
      const chosen = typed || (!$("organization-choice").hidden && $("organization-choice").value);
      if (!chosen) return;
      sessionStorage.setItem(ORGANIZATION_KEY, chosen);
      $("organization-typed").value = "";
      list.cursors = [null];
      list.page = 0;
      route();
    });
    $("organization").addEventListener("change", () => {
      sessionStorage.setItem(ORGANIZATION_KEY, $("organization").value);
      list.cursors = [null];
      list.page = 0;
      if (location.hash) location.hash = "";
      else route();
    });
    $("filters").addEventListener("submit", (event) => {
      event.preventDefault();
      list.filters = readFilters();
      list.cursors = [null];
      list.page = 0;
      loadList();
    });
    $("f-clear").addEventListener("click", () => {
      $("filters").reset();
      list.filters = {};
      list.cursors = [null];
      list.page = 0;
      loadList();
    });
    $("page-next").addEventListener("click", () => {
      list.page += 1;
      loadList();
    });
    $("page-previous").addEventListener("click", () => {
      list.page = Math.max(0, list.page - 1);
      loadList();
    });
    $("page-first").addEventListener("click", () => {
      list.page = 0;
      loadList();
    });
    for (const kind of ["errors", "warnings"]) {
      $(kind + "-next").addEventListener("click", () => {
        detail.history[kind].page += 1;
        loadHistory(kind);
      });
      $(kind + "-first").addEventListener("click", () => {
        detail.history[kind].page = 0;
        loadHistory(kind);
      });
    }
    $("cancel").addEventListener("click", () => $("cancel-dialog").showModal());
    $("cancel-dialog").addEventListener("close", () => {
      if ($("cancel-dialog").returnValue === "cancel") cancelJob();
      else $("cancel").focus();
      $("cancel-dialog").returnValue = "";
    });
    // The skip link moves the focus only: the fragment is the page's own router.
    document.querySelector(".skip").addEventListener("click", (event) => {
      event.preventDefault();
      $("main").focus();
    });
    window.addEventListener("hashchange", route);
    route();
  }

  start();
})();
