// The researcher page (/admin): sign in with the admin key, then the participants table (refreshed while the page
// is in view), the numbering audit, the recovery with a confirmation step, export downloads and the action log.
// Everything from the server goes in as text (dom.js), never as HTML.

import { h, replaceChildren, focusElement } from "./dom.js";
import { adminApi, adminKey } from "./admin-api.js";
import { initStudies, loadStudies, clearStudies } from "./studies.js";
import { startWithdrawals } from "./withdraw.js";

const pageSize = 25;
const maxPageSize = 500;
const refreshMs = 5000;

const $ = (id) => document.getElementById(id);

const state = { rows: [], next: null, timer: null, refreshing: false, audit: null };

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const time = new Intl.DateTimeFormat(undefined, { timeStyle: "medium" });
const count = new Intl.NumberFormat();

const formatDate = (iso) => dateTime.format(new Date(iso));

/** "1 session", "3 sessions". */
const plural = (n, noun) => `${count.format(n)} ${noun}${n === 1 ? "" : "s"}`;

const visitorLabel = (number, mode) => {
  if (number === null || number === undefined) {
    return "No number yet";
  }

  return mode === "pilot" ? `Pilot #${number}` : `#${number}`;
};

/** What went wrong with a call, with the status and the server's own explanation. */
function describe(error) {
  if (error?.status === 0) {
    return "The server could not be reached. Check the connection and try again.";
  }

  const detail = error?.detail ? ` ${error.detail}` : "";
  return `The server answered ${error?.status ?? "?"}${error?.title ? ` (${error.title})` : ""}.${detail}`;
}

// Sign-in and sign-out

function showSignIn(message = "") {
  stopRefresh();
  state.rows = [];
  state.next = null;
  state.audit = null;
  for (const id of ["participants-body", "audit-report", "recovery-result", "actions-body"]) {
    $(id).replaceChildren();
  }

  const statuses = ["participants-updated", "participants-status", "audit-status", "recovery-status", "export-status", "actions-status"];
  for (const id of statuses) {
    $(id).textContent = "";
  }

  clearStudies();
  $("dashboard").hidden = true;
  $("sign-out").hidden = true;
  $("sign-in").hidden = false;
  $("sign-in-message").textContent = message;
  $("sign-in-status").textContent = "";
  const field = $("admin-key");
  field.value = "";
  field.setAttribute("aria-invalid", message ? "true" : "false");
  field.focus();
}

/** A 401 on any call means the key is no longer good (changed on the server): forget it and ask again. */
function signedOutBy(error) {
  if (error?.status !== 401) {
    return false;
  }

  adminKey.clear();
  showSignIn("The admin key is no longer accepted (401). Please sign in again.");
  return true;
}

async function signIn(event) {
  event.preventDefault();
  const key = $("admin-key").value.trim();
  const message = $("sign-in-message");
  if (!key) {
    message.textContent = "Type the admin key first.";
    $("admin-key").setAttribute("aria-invalid", "true");
    $("admin-key").focus();
    return;
  }

  message.textContent = "";
  try {
    // The audit proves the key and is shown straight away.
    state.audit = await adminApi.audit(key);
  } catch (error) {
    // Nothing of a refused key is kept: not in storage, not in the field.
    adminKey.clear();
    showSignIn(error.status === 401
      ? "That admin key was not accepted (401 Unauthorized). Check it and try again."
      : `Could not sign in. ${describe(error)}`);
    return;
  }

  adminKey.set(key);
  $("admin-key").value = "";
  showDashboard();
}

function signOut() {
  adminKey.clear();
  showSignIn();
  $("sign-in-status").textContent = "Signed out. The key is no longer kept in this tab.";
}

function showDashboard() {
  $("sign-in").hidden = true;
  $("dashboard").hidden = false;
  $("sign-out").hidden = false;
  focusElement($("dashboard-heading"));
  if (state.audit) {
    renderAudit(state.audit);
  } else {
    loadAudit();
  }

  loadStudies();
  refreshParticipants();
  loadActions();
  startRefresh();
}

// Participants

function participantRow(row) {
  const level = row.isCompleted ? `${row.totalLevels} of ${row.totalLevels}` : `${row.currentLevel} of ${row.totalLevels}`;
  return h("tr", { dataset: { sessionId: row.sessionId } },
    h("th", {
      scope: "row",
      className: row.visitorNumber === null ? "unnumbered" : null,
      text: visitorLabel(row.visitorNumber, row.mode),
    }),
    h("td", { text: row.condition ?? "—" }),
    h("td", { text: row.mode === "pilot" ? "Pilot" : "Live" }),
    h("td", {}, h("time", { datetime: row.createdAt, text: formatDate(row.createdAt) })),
    h("td", { text: level }),
    h("td", { text: row.withdrawnAt ? "Withdrawn" : row.isCompleted ? "Yes" : "No" }),
    h("td", { className: "number", text: count.format(row.responses) }),
    h("td", { className: "number", text: count.format(row.files) }),
    h("td", {}, h("code", { className: "session-id", text: row.sessionId })),
    h("td", { className: "panel-ids", text: panelIds(row) }));
}

/** The panel that sent the person and its ids ("prolific: 5f… · study 60… · session 61…"), or a dash. */
function panelIds(row) {
  if (!row.recruitmentSource) {
    return "—";
  }

  const parts = [`${row.recruitmentSource}: ${row.recruitmentParticipantId ?? "—"}`];
  if (row.recruitmentStudyId) {
    parts.push(`study ${row.recruitmentStudyId}`);
  }

  if (row.recruitmentSessionId) {
    parts.push(`session ${row.recruitmentSessionId}`);
  }

  return parts.join(" · ");
}

function renderParticipants() {
  const body = $("participants-body");
  if (state.rows.length === 0) {
    replaceChildren(body, h("tr", {}, h("td", { colspan: 10, className: "empty", text: "No participants yet." })));
  } else {
    replaceChildren(body, state.rows.map(participantRow));
  }

  const loadMore = $("load-more");
  const hadFocus = document.activeElement === loadMore;
  loadMore.hidden = state.next === null;
  if (hadFocus && loadMore.hidden) {
    $("participants").querySelector(".table-scroll").focus();
  }
}

/** Reloads what is on screen (at least the first page), so new participants appear at the top and progress moves. */
async function refreshParticipants() {
  if (state.refreshing || !adminKey.get()) {
    return;
  }

  state.refreshing = true;
  const shown = Math.min(Math.max(state.rows.length, pageSize), maxPageSize);
  try {
    const page = await adminApi.participants(`/api/admin/participants?limit=${shown}`);
    if (!adminKey.get()) {
      return; // signed out meanwhile: show nothing
    }

    // Newcomers push older rows out of the fresh page: keep those below it (ids are time-ordered, so the text
    // order of two ids is their start order), with the link that already follows them.
    const last = page.rows.at(-1)?.sessionId;
    const tail = last ? state.rows.filter((r) => r.sessionId < last) : [];
    state.rows = page.rows.concat(tail);
    state.next = tail.length > 0 ? state.next : page.next;
    renderParticipants();
    $("participants-updated").textContent = `Updated at ${time.format(new Date())}.`;
  } catch (error) {
    if (!signedOutBy(error)) {
      $("participants-status").textContent = `The participants could not be loaded. ${describe(error)}`;
    }
  } finally {
    state.refreshing = false;
  }
}

async function loadMore() {
  if (!state.next) {
    return;
  }

  const button = $("load-more");
  button.disabled = true;
  try {
    const page = await adminApi.participants(state.next);
    const known = new Set(state.rows.map((r) => r.sessionId));
    state.rows = state.rows.concat(page.rows.filter((r) => !known.has(r.sessionId)));
    state.next = page.next;
    renderParticipants();
    const loaded = page.rows.length;
    $("participants-status").textContent = `${loaded} more participant${loaded === 1 ? "" : "s"} loaded; ${state.rows.length} shown.`;
  } catch (error) {
    if (!signedOutBy(error)) {
      $("participants-status").textContent = `More participants could not be loaded. ${describe(error)}`;
    }
  } finally {
    button.disabled = false;
  }
}

function startRefresh() {
  stopRefresh();
  state.timer = setInterval(() => {
    if (document.visibilityState === "visible") {
      refreshParticipants();
    }
  }, refreshMs);
}

function stopRefresh() {
  clearInterval(state.timer);
  state.timer = null;
}

// Audit

function figure(term, value, { attention = false } = {}) {
  return [
    h("dt", { text: term }),
    h("dd", { className: attention ? "attention" : null, text: count.format(value) }),
  ];
}

function listOrNone(items, describeItem, none) {
  return items.length === 0
    ? h("p", { className: "all-clear", text: none })
    : h("ul", {}, items.map((item) => h("li", { text: describeItem(item) })));
}

function renderAudit(report) {
  const gaps = report.gaps ?? [];
  const duplicates = report.duplicates ?? [];
  const problems = [];
  if (duplicates.length > 0) {
    problems.push(`${duplicates.length} duplicate number${duplicates.length === 1 ? "" : "s"}`);
  }

  if (gaps.length > 0) {
    problems.push(`${gaps.length}${report.gapsTruncated ? "+" : ""} gap${gaps.length === 1 ? "" : "s"}`);
  }

  if (report.mismatchedSessions + report.mismatchedResponses > 0) {
    problems.push("mismatched numbers");
  }

  if (report.unnumberedSessions > 0) {
    problems.push(`${report.unnumberedSessions} session${report.unnumberedSessions === 1 ? "" : "s"} without a number`);
  }

  const summary = problems.length === 0
    ? "All clear: no duplicates, no gaps, no mismatches."
    : `Needs attention: ${problems.join(", ")}.`;

  const balance = Array.isArray(report.conditions)
    ? report.conditions.length === 0
      ? h("p", { className: "note", text: "No live session has a condition yet." })
      : h("div", { className: "table-scroll", role: "region", "aria-labelledby": "balance-heading", tabindex: "0" },
        h("table", { className: "data-table" },
          h("thead", {}, h("tr", {},
            h("th", { scope: "col", text: "Condition" }),
            h("th", { scope: "col", text: "Started" }),
            h("th", { scope: "col", text: "Completed" }),
            h("th", { scope: "col", text: "Experiment" }))),
          h("tbody", {}, report.conditions.map((c) => h("tr", {},
            h("th", { scope: "row", text: c.condition }),
            h("td", { className: "number", text: count.format(c.started) }),
            h("td", { className: "number", text: count.format(c.completed) }),
            h("td", {}, h("code", { text: String(c.experimentId) })))))))
    : h("p", { className: "note", text: "This server does not report conditions." });

  replaceChildren($("audit-report"),
    h("p", { className: problems.length === 0 ? "audit-summary ok" : "audit-summary warn", "data-testid": "audit-summary", text: summary }),
    h("dl", { className: "figures" },
      figure("Sequence position (last number given)", report.sequenceLastValue),
      figure("People", report.users),
      figure("People with a number", report.numberedUsers),
      figure("Sessions without a number", report.unnumberedSessions, { attention: report.unnumberedSessions > 0 }),
      figure("Sessions whose number differs from their person's", report.mismatchedSessions, { attention: report.mismatchedSessions > 0 }),
      figure("Answers whose number differs from their session's", report.mismatchedResponses,
        { attention: report.mismatchedResponses > 0 }),
      figure("Uploads pending delivery", report.pendingUploads, { attention: report.pendingUploads > 0 }),
      figure("Uploads refused by storage", report.rejectedUploads, { attention: report.rejectedUploads > 0 })),
    h("h3", { id: "gaps-heading", text: "Gaps" }),
    listOrNone(gaps, (g) => (g.from === g.to ? `#${g.from} missing` : `#${g.from} to #${g.to} missing (${g.to - g.from + 1} numbers)`),
      "No gaps: every number up to the sequence position is held."),
    report.gapsTruncated ? h("p", { className: "note", text: "Only the first gaps are listed." }) : null,
    h("h3", { text: "Duplicates" }),
    listOrNone(duplicates, (d) => `#${d.visitorNumber} is held by ${d.users} people`, "No number is held by two people."),
    h("h3", { id: "balance-heading", text: "Balance per condition (live)" }),
    balance);
}

async function loadAudit({ announce = false } = {}) {
  try {
    const report = await adminApi.audit();
    if (!adminKey.get()) {
      return;
    }

    state.audit = report;
    renderAudit(report);
    $("audit-status").textContent = announce ? `Audit run at ${time.format(new Date())}.` : "";
  } catch (error) {
    if (!signedOutBy(error)) {
      $("audit-status").textContent = `The audit could not be run. ${describe(error)}`;
    }
  }
}

// Recovery

function askRecovery() {
  const waiting = state.audit?.unnumberedSessions;
  $("recovery-confirm-text").textContent = waiting === undefined
    ? "Run the recovery now? It is recorded in the action log under your key's fingerprint."
    : `${count.format(waiting)} session${waiting === 1 ? " is" : "s are"} waiting for a number. Run the recovery now? `
      + "It is recorded in the action log under your key's fingerprint.";
  $("recovery-confirm").hidden = false;
  $("recovery-start").hidden = true;
  $("recovery-run").focus();
}

function cancelRecovery() {
  $("recovery-confirm").hidden = true;
  $("recovery-start").hidden = false;
  $("recovery-start").focus();
}

async function runRecovery() {
  const run = $("recovery-run");
  run.disabled = true;
  $("recovery-status").textContent = "Running the recovery…";
  try {
    const result = await adminApi.recover();
    $("recovery-confirm").hidden = true;
    $("recovery-start").hidden = false;
    renderRecovery(result);
    $("recovery-status").textContent = result.numbersAssigned === 0
      ? "Recovery finished: nothing needed a number."
      : `Recovery finished: ${result.numbersAssigned} new number${result.numbersAssigned === 1 ? "" : "s"} given.`;
    $("recovery-start").focus();
    await Promise.all([loadAudit(), refreshParticipants(), loadActions()]);
  } catch (error) {
    if (!signedOutBy(error)) {
      $("recovery-status").textContent = `The recovery failed; nothing was changed by this page. ${describe(error)}`;
    }
  } finally {
    run.disabled = false;
  }
}

function renderRecovery(result) {
  const assignments = result.assignments ?? [];
  replaceChildren($("recovery-result"),
    h("h3", { text: "What the recovery changed" }),
    h("dl", { className: "figures", "data-testid": "recovery-figures" },
      figure("Sessions looked at", result.sessionsScanned),
      figure("New numbers given", result.numbersAssigned),
      figure("Answers updated", result.responsesUpdated),
      figure("Stored files updated", result.objectsUpdated)),
    assignments.length === 0
      ? null
      : h("div", { className: "table-scroll", role: "region", "aria-label": "Sessions numbered by the recovery", tabindex: "0" },
        h("table", { className: "data-table" },
          h("thead", {}, h("tr", {},
            h("th", { scope: "col", text: "Session" }),
            h("th", { scope: "col", text: "Visitor number" }))),
          h("tbody", {}, assignments.map((a) => h("tr", {},
            h("td", {}, h("code", { className: "session-id", text: a.sessionId })),
            h("td", { text: `#${a.visitorNumber}` })))))));
}

// Export

function exportQuery(form) {
  const params = new URLSearchParams();
  params.set("format", form.querySelector("input[name=format]:checked")?.value ?? "csv");
  const from = $("export-from").value.trim();
  const to = $("export-to").value.trim();
  for (const [name, value, field] of [["from", from, $("export-from")], ["to", to, $("export-to")]]) {
    field.removeAttribute("aria-invalid");
    if (value && !/^[1-9]\d{0,9}$/.test(value)) {
      field.setAttribute("aria-invalid", "true");
      field.focus();
      throw new Error(`"${name === "from" ? "From" : "To"}" must be a whole number of 1 or more.`);
    }

    if (value) {
      params.set(name, value);
    }
  }

  if (from && to && Number(from) > Number(to)) {
    $("export-to").setAttribute("aria-invalid", "true");
    $("export-to").focus();
    throw new Error("\"To\" must not be smaller than \"From\".");
  }

  params.set("mode", $("export-mode").value);
  return params;
}

function saveBlob(blob, fileName) {
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: fileName, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  // The download has its own copy once started; the object URL is not needed after this turn.
  setTimeout(() => URL.revokeObjectURL(url), 0);
}

const sizeOf = (bytes) => (bytes < 1024 ? `${bytes} bytes` : bytes < 1048576
  ? `${(bytes / 1024).toFixed(1)} kB` : `${(bytes / 1048576).toFixed(1)} MB`);

async function downloadExport(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const status = $("export-status");
  let params;
  try {
    params = exportQuery(form);
  } catch (error) {
    status.textContent = error.message;
    return;
  }

  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  status.textContent = "Preparing the export…";
  try {
    const format = params.get("format");
    const { blob, fileName } = await adminApi.export(params.toString());
    const name = fileName ?? `mindjourney-${params.get("mode")}.${format}`;
    saveBlob(blob, name);
    status.textContent = `Downloaded ${name} (${sizeOf(blob.size)}).`;
    loadActions();
  } catch (error) {
    if (!signedOutBy(error)) {
      status.textContent = `The export failed. ${describe(error)}`;
    }
  } finally {
    button.disabled = false;
  }
}

// Action log

function whatItDid(action) {
  const details = action.details ?? {};
  if (action.action === "recovery") {
    return `${plural(details.numbersAssigned ?? 0, "new number")} given, ${plural(details.sessionsScanned ?? 0, "session")} looked at`;
  }

  const text = JSON.stringify(details);
  return text.length > 200 ? `${text.slice(0, 199)}…` : text;
}

async function loadActions({ announce = false } = {}) {
  try {
    const actions = await adminApi.actions();
    if (!adminKey.get()) {
      return;
    }

    replaceChildren($("actions-body"), actions.length === 0
      ? h("tr", {}, h("td", { colspan: 4, className: "empty", text: "Nothing recorded yet." }))
      : actions.map((a) => h("tr", {},
        h("td", {}, h("time", { datetime: a.at, text: formatDate(a.at) })),
        h("td", { text: a.action }),
        h("td", {}, h("code", { text: a.keyFingerprint })),
        h("td", { text: whatItDid(a) }))));
    $("actions-status").textContent = announce ? `Action log refreshed at ${time.format(new Date())}.` : "";
  } catch (error) {
    if (!signedOutBy(error)) {
      $("actions-status").textContent = `The action log could not be loaded. ${describe(error)}`;
    }
  }
}

// Start

function start() {
  initStudies({ signedOutBy, describe, changed: () => loadActions() });
  $("sign-in-form").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", signOut);
  $("load-more").addEventListener("click", loadMore);
  $("audit-refresh").addEventListener("click", () => loadAudit({ announce: true }));
  $("recovery-start").addEventListener("click", askRecovery);
  $("recovery-cancel").addEventListener("click", cancelRecovery);
  $("recovery-run").addEventListener("click", runRecovery);
  $("recovery-confirm").addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      cancelRecovery();
    }
  });
  $("export-form").addEventListener("submit", downloadExport);
  $("actions-refresh").addEventListener("click", () => loadActions({ announce: true }));
  startWithdrawals({ onWithdrawn: () => Promise.all([refreshParticipants(), loadActions(), loadAudit()]) });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && !$("dashboard").hidden) {
      refreshParticipants();
    }
  });

  if (adminKey.get()) {
    // A reload in the same tab: the kept key still has to be accepted.
    state.audit = null;
    $("sign-in").hidden = true;
    adminApi.audit().then((report) => {
      state.audit = report;
      showDashboard();
    }, (error) => {
      if (!signedOutBy(error)) {
        showSignIn(`Could not reach the server. ${describe(error)}`);
      }
    });
  } else {
    showSignIn();
  }
}

start();
