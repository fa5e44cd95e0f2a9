// The researcher page's Studies section: every study with its status, participants against its cap, conditions and
// scheme; a create and an edit form that shows the API's validation messages next to their fields; Open and Close
// (Close asks first, in a <dialog>); copy buttons for the participant and pilot links; and the enrollment chart
// (uPlot, vendored under /lib/uplot) with the balance per condition as its text alternative.
// Everything from the server goes in as text (dom.js), never as HTML.

import { h, replaceChildren, focusElement } from "./dom.js";
import { adminKey } from "./admin-api.js";
import { ApiError, errorFrom } from "./api.js";
import uPlot from "/lib/uplot/uPlot.esm.js";

const $ = (id) => document.getElementById(id);
const count = new Intl.NumberFormat();
const utcDay = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeZone: "UTC" });
const utcHour = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" });

const statusNames = { draft: "Draft", open: "Open", closed: "Closed" };
const bucketSeconds = { hour: 3600, day: 86400 };
// Missing buckets are drawn as 0 up to this many points; a longer span is drawn as it comes.
const maxFilledPoints = 20000;

// The form's fields by the API's field name: the input, and how its value is read.
const fields = {
  title: { id: "study-title", read: (v) => v.trim() },
  slug: { id: "study-slug", read: (v) => v.trim() || null },
  description: { id: "study-description", read: (v) => v.trim() || null },
  status: { id: "study-status", read: (v) => v },
  conditions: { id: "study-conditions", read: (v) => v.split(",").map((c) => c.trim()).filter((c) => c !== "") },
  conditionScheme: { id: "study-scheme", read: (v) => v },
  maxParticipants: { id: "study-cap", read: (v) => (v.trim() === "" ? null : Number(v)) },
  levels: { id: "study-levels", read: (v) => JSON.parse(v) },
  completionUrl: { id: "study-completion-url", read: (v) => v.trim() || null },
  sonaParameter: { id: "study-sona", read: (v) => v.trim() || null },
};

const exampleLevels = [{ title: "Level 1", questions: [{ id: "q1", type: "text", prompt: "How do you feel right now?" }] }];

const state = { studies: [], editing: null, closing: null, enrollmentOf: null, chart: null, hooks: null, resize: null };

/** The admin routes with a JSON body; a refusal becomes ApiError with the problem's `errors` (if any) kept. */
async function call(path, { method = "GET", body } = {}) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: { Accept: "application/json", "X-Admin-Key": adminKey.get() ?? "", ...(body ? { "Content-Type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, "Network error", null);
  }

  if (!response.ok) {
    const problem = await response.clone().json().catch(() => null);
    const error = await errorFrom(response);
    error.type = typeof problem?.type === "string" ? problem.type : null;
    error.errors = problem && typeof problem.errors === "object" ? problem.errors : null;
    throw error;
  }

  return response.json();
}

/** A call's failure: false when a 401 signed the researcher out (admin.js), true when the caller should say it. */
const sayable = (error) => !state.hooks.signedOutBy(error);

// The list

function progress(study) {
  const { started, completed } = study.participants;
  const cap = study.maxParticipants;
  const summary = cap === null
    ? `${count.format(started)} started (no cap), ${count.format(completed)} completed`
    : `${count.format(started)} of ${count.format(cap)} started, ${count.format(completed)} completed`;
  return h("div", { className: "study-progress" },
    cap === null ? null : h("progress", {
      max: String(cap),
      value: String(Math.min(started, cap)),
      "aria-label": `Participants of ${study.title}: ${count.format(started)} of ${count.format(cap)}`,
    }),
    h("p", { className: "study-count", text: summary }));
}

function studyCard(study) {
  const titleId = `study-${study.id}-title`;
  const conditions = study.conditions.length === 0 ? "None" : `${study.conditions.join(", ")} (${study.conditionScheme})`;
  const open = study.status === "open";
  return h("article", { className: "study", "aria-labelledby": titleId, dataset: { studyId: study.id, slug: study.slug } },
    h("div", { className: "study-head" },
      h("h3", { id: titleId, text: study.title }),
      h("span", {
        className: `study-status status-${study.status}`, "data-testid": "study-status", text: statusNames[study.status] ?? study.status,
      })),
    progress(study),
    h("dl", { className: "study-facts" },
      h("dt", { text: "Conditions" }), h("dd", { text: conditions }),
      h("dt", { text: "Link" }), h("dd", {}, h("code", { className: "study-link", text: study.participantUrl }))),
    h("div", { className: "admin-actions" },
      open
        ? h("button", { className: "button button-secondary", type: "button", onClick: () => askClose(study), text: "Close…" })
        : h("button", { className: "button", type: "button", onClick: () => setStatus(study, "open"), text: "Open" }),
      h("button", { className: "button button-secondary", type: "button", onClick: () => showForm(study), text: "Edit" }),
      h("button", { className: "button button-secondary", type: "button", onClick: () => showEnrollment(study), text: "Enrollment" }),
      h("button", {
        className: "button button-secondary", type: "button", text: "Copy participant link",
        "aria-label": `Copy participant link: ${study.title}`, onClick: () => copyLink(study.participantUrl, "Participant link"),
      }),
      h("button", {
        className: "button button-secondary", type: "button", text: "Copy pilot link",
        "aria-label": `Copy pilot link: ${study.title}`, onClick: () => copyLink(study.pilotUrl, "Pilot link"),
      })));
}

function renderStudies() {
  replaceChildren($("studies-list"), state.studies.length === 0
    ? h("p", { className: "note", text: "No studies yet: create one with New study." })
    : state.studies.map(studyCard));
}

/** Loads the list (and the chart shown, if any). */
export async function loadStudies({ announce = false } = {}) {
  try {
    const studies = await call("/api/admin/experiments");
    if (!adminKey.get()) {
      return;
    }

    state.studies = studies;
    renderStudies();
    if (announce) {
      $("studies-status").textContent = `${studies.length} ${studies.length === 1 ? "study" : "studies"} loaded.`;
    }

    const shown = studies.find((s) => s.id === state.enrollmentOf);
    if (shown) {
      await loadEnrollment(shown);
    }
  } catch (error) {
    if (sayable(error)) {
      $("studies-status").textContent = `The studies could not be loaded. ${state.hooks.describe(error)}`;
    }
  }
}

async function copyLink(path, what) {
  const url = new URL(path, location.origin).href;
  try {
    await navigator.clipboard.writeText(url);
    $("studies-status").textContent = `${what} copied: ${url}`;
  } catch {
    // No clipboard (an insecure origin, a refused permission): the link is shown to copy by hand.
    $("studies-status").textContent = `${what} (copy it from here): ${url}`;
  }
}

// Open and close

async function setStatus(study, status) {
  try {
    await call(`/api/admin/experiments/${study.id}`, { method: "PATCH", body: { status } });
    $("studies-status").textContent = `${study.title} is ${statusNames[status].toLowerCase()}.`;
    await loadStudies();
    state.hooks.changed();
  } catch (error) {
    if (sayable(error)) {
      $("studies-status").textContent = `${study.title} could not be changed. ${state.hooks.describe(error)}`;
    }
  }
}

function askClose(study) {
  state.closing = study;
  $("study-close-text").textContent = `New people who open the link of “${study.title}” will be told it is closed. `
    + "People already in it can still answer and finish. You can open it again later.";
  $("study-close-dialog").returnValue = "";
  $("study-close-dialog").showModal();
}

async function closeAnswered() {
  const study = state.closing;
  state.closing = null;
  const answer = $("study-close-dialog").returnValue;
  if (study && answer === "close") {
    await setStatus(study, "closed");
  }

  const card = document.querySelector(`article[data-study-id="${study?.id}"] button`);
  card?.focus();
}

// The create and edit form

function clearErrors() {
  $("study-form-errors").replaceChildren();
  for (const { id } of Object.values(fields)) {
    $(id).removeAttribute("aria-invalid");
    $(`${id}-error`).textContent = "";
  }
}

/** The field an error's path belongs to: `levels[0].questions[1].id` → levels. */
function fieldOf(path) {
  const name = /^[A-Za-z]+/.exec(path)?.[0];
  return name && Object.hasOwn(fields, name) ? name : null;
}

/** The API's messages (keyed by field path) next to their fields, and all of them in the list at the top. */
function showErrors(errors, lead) {
  clearErrors();
  const byField = new Map();
  const items = [];
  for (const [path, messages] of Object.entries(errors)) {
    const field = fieldOf(path);
    for (const message of Array.isArray(messages) ? messages : [String(messages)]) {
      // A nested path says where inside the field it is: "levels[0].questions[1].id: …".
      const text = field !== null && path !== field ? `${path}: ${message}` : message;
      items.push(text);
      if (field !== null) {
        byField.set(field, [...(byField.get(field) ?? []), text]);
      }
    }
  }

  for (const [field, messages] of byField) {
    const { id } = fields[field];
    $(id).setAttribute("aria-invalid", "true");
    $(`${id}-error`).textContent = messages.join(" ");
  }

  replaceChildren($("study-form-errors"),
    h("p", { text: lead }),
    h("ul", {}, items.map((text) => h("li", { text }))));
  const first = Object.keys(fields).find((f) => byField.has(f));
  if (first) {
    $(fields[first].id).focus();
  }
}

const levelsOf = (study) => study.levels.map((l) => ({
  title: l.title, ...(l.description ? { description: l.description } : {}), questions: l.questions,
}));

function valuesOf(study) {
  return {
    title: study?.title ?? "",
    slug: study?.slug ?? "",
    description: study?.description ?? "",
    status: study?.status ?? "draft",
    conditions: (study?.conditions ?? ["control", "treatment"]).join(", "),
    conditionScheme: study?.conditionScheme ?? "cycle",
    maxParticipants: study?.maxParticipants ?? "",
    levels: JSON.stringify(study ? levelsOf(study) : exampleLevels, null, 2),
    completionUrl: study?.completionUrl ?? "",
    sonaParameter: study?.sonaParameter ?? "",
  };
}

/** The form, empty for a new study or filled with `study` to change it. */
function showForm(study = null) {
  state.editing = study;
  clearErrors();
  for (const [name, value] of Object.entries(valuesOf(study))) {
    $(fields[name].id).value = String(value);
  }

  $("study-form-heading").textContent = study ? `Edit “${study.title}”` : "New study";
  $("study-save").textContent = study ? "Save the changes" : "Create the study";
  $("study-form").hidden = false;
  focusElement($("study-form-heading"));
  $("study-form-heading").scrollIntoView({ block: "start" });
}

function hideForm() {
  const editing = state.editing;
  state.editing = null;
  $("study-form").hidden = true;
  (editing ? document.querySelector(`article[data-study-id="${editing.id}"] button`) : $("study-new"))?.focus();
}

/** The body to send: every field for a new study; only those changed for an edit (levels sent unchanged would be
 * refused once people have started). Throws the errors of fields that cannot even be read (bad JSON). */
function bodyOf(study) {
  const body = {};
  const errors = {};
  for (const [name, { id, read }] of Object.entries(fields)) {
    try {
      body[name] = read($(id).value);
    } catch (error) {
      errors[name] = [`${name} is not valid JSON: ${error.message}`];
    }
  }

  if (Object.keys(errors).length > 0) {
    throw Object.assign(new Error("unreadable"), { errors });
  }

  if (study) {
    const before = { ...study, levels: levelsOf(study) };
    for (const name of Object.keys(body)) {
      if (JSON.stringify(body[name]) === JSON.stringify(before[name] ?? (name === "conditions" ? [] : null))) {
        delete body[name];
      }
    }
  }

  return body;
}

async function saveStudy(event) {
  event.preventDefault();
  const study = state.editing;
  let body;
  try {
    body = bodyOf(study);
  } catch (error) {
    showErrors(error.errors, "The study was not saved: fix the field below.");
    return;
  }

  if (study && Object.keys(body).length === 0) {
    clearErrors();
    $("studies-status").textContent = "Nothing changed: there was nothing to save.";
    hideForm();
    return;
  }

  const button = $("study-save");
  button.disabled = true;
  try {
    const saved = study
      ? await call(`/api/admin/experiments/${study.id}`, { method: "PATCH", body })
      : await call("/api/admin/experiments", { method: "POST", body });
    hideForm();
    $("studies-status").textContent = study
      ? `${saved.title} saved.`
      : `${saved.title} created (${saved.status}): its link is ${saved.participantUrl}.`;
    await loadStudies();
    document.querySelector(`article[data-study-id="${saved.id}"] h3`)?.scrollIntoView({ block: "nearest" });
    state.hooks.changed();
  } catch (error) {
    if (!sayable(error)) {
      return;
    }

    const lead = `The study was not saved. ${state.hooks.describe(error)}`;
    if (error.errors) {
      const n = Object.values(error.errors).flat().length;
      showErrors(error.errors, `The study was not saved: ${n === 1 ? "1 problem" : `${n} problems`}, each shown next to its field.`);
    } else if (error.type === "/problems/slug-taken") {
      showErrors({ slug: [error.detail ?? "This link name is taken."] }, lead);
    } else if (error.type === "/problems/study-started") {
      const field = /^(levels|slug|maxParticipants)\b/.exec(error.detail ?? "")?.[1] ?? null;
      showErrors(field ? { [field]: [error.detail] } : { "": [error.detail] }, lead);
    } else {
      showErrors({}, lead);
    }
  } finally {
    button.disabled = false;
  }
}

// Enrollment

const bucketOf = () => document.querySelector("input[name=enrollment-bucket]:checked")?.value ?? "day";

async function showEnrollment(study) {
  state.enrollmentOf = study.id;
  $("enrollment").hidden = false;
  $("enrollment-heading").textContent = `Enrollment: ${study.title}`;
  focusElement($("enrollment-heading"));
  $("enrollment-heading").scrollIntoView({ block: "start" });
  await loadEnrollment(study);
}

async function loadEnrollment(study) {
  const bucket = bucketOf();
  try {
    const buckets = await call(`/api/admin/experiments/${study.id}/enrollment?bucket=${bucket}`);
    if (state.enrollmentOf !== study.id) {
      return; // another study was chosen meanwhile
    }

    renderEnrollment(study, buckets, bucket);
    $("enrollment-status").textContent = "";
  } catch (error) {
    if (sayable(error)) {
      $("enrollment-status").textContent = `The enrollment could not be loaded. ${state.hooks.describe(error)}`;
    }
  }
}

/** Buckets in time order with the missing ones as zeros (a chart's line would otherwise bridge them). */
function series(buckets, bucket) {
  const step = bucketSeconds[bucket];
  const at = buckets.map((b) => Date.parse(b.start) / 1000);
  const xs = [];
  const started = [];
  const completed = [];
  const span = at.length === 0 ? 0 : (at.at(-1) - at[0]) / step + 1;
  if (span <= maxFilledPoints) {
    for (let i = 0, t = at[0]; i < buckets.length; t += step) {
      const here = at[i] === t;
      xs.push(t);
      started.push(here ? buckets[i].started : 0);
      completed.push(here ? buckets[i].completed : 0);
      i += here ? 1 : 0;
    }
  } else {
    xs.push(...at);
    started.push(...buckets.map((b) => b.started));
    completed.push(...buckets.map((b) => b.completed));
  }

  return [xs, started, completed];
}

function drawChart(data, bucket) {
  state.chart?.destroy();
  state.chart = null;
  const box = $("enrollment-chart");
  box.replaceChildren();
  if (data[0].length === 0) {
    box.append(h("p", { className: "note", text: "No live participant has started yet." }));
    return;
  }

  const style = getComputedStyle(document.documentElement);
  const colour = (name, fallback) => style.getPropertyValue(name).trim() || fallback;
  const width = Math.max(box.clientWidth, 240);
  const step = bucketSeconds[bucket];
  state.chart = new uPlot({
    width,
    height: width < 480 ? 220 : 280,
    // Buckets are UTC hours and days: the axis says them in UTC too.
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
    legend: { live: false },
    cursor: { drag: { x: false, y: false } },
    scales: {
      // Half a bucket either side, so the first and last bars are whole.
      x: { time: true, range: (_, min, max) => [min - step / 2, max + step / 2] },
      y: { range: (_, min, max) => [0, Math.max(1, max)] },
    },
    axes: [
      { incrs: tickSteps[bucket], values: (_, ticks) => ticks.map((t) => tickLabel(t)) },
      { values: (_, ticks) => ticks.map((t) => (Number.isInteger(t) ? count.format(t) : "")) },
    ],
    series: [
      { label: bucket === "hour" ? "Hour (UTC)" : "Day (UTC)" },
      {
        label: "Started", stroke: colour("--primary", "#3347b0"), fill: "rgba(51, 71, 176, 0.25)", width: 1,
        paths: uPlot.paths.bars({ size: [0.7, 40] }), points: { show: false },
      },
      // A thin line where hundreds of buckets are drawn (60 days of hours), so the bars still show through.
      {
        label: "Completed", stroke: colour("--fill", "#2f7d6d"), width: data[0].length > 200 ? 1 : 2,
        points: { show: data[0].length <= 90 },
      },
    ],
  }, data, box);
}

// Ticks fall on whole buckets: hours, days, weeks.
const tickSteps = {
  hour: [3600, 2 * 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400, 14 * 86400, 28 * 86400],
  day: [86400, 2 * 86400, 7 * 86400, 14 * 86400, 28 * 86400, 56 * 86400],
};
const tickDay = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", timeZone: "UTC" });
const tickHour = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", timeZone: "UTC" });

/** A tick: its day at a UTC midnight, else its hour. */
const tickLabel = (t) => (t % 86400 === 0 ? tickDay : tickHour).format(new Date(t * 1000));

function formatBucket(ms, bucket) {
  return bucket === "hour" ? `${utcHour.format(new Date(ms))} UTC` : utcDay.format(new Date(ms));
}

function figuresTable(label, head, rows) {
  return h("div", { className: "table-scroll", role: "region", "aria-label": label, tabindex: "0" },
    h("table", { className: "data-table" },
      h("thead", {}, h("tr", {}, head.map((text, i) => h("th", { scope: "col", className: i > 0 ? "number" : null, text })))),
      h("tbody", {}, rows.map(([first, ...numbers]) => h("tr", {},
        h("th", { scope: "row", text: first }),
        numbers.map((n) => h("td", { className: "number", text: count.format(n) })))))));
}

function renderEnrollment(study, buckets, bucket) {
  const data = series(buckets, bucket);
  drawChart(data, bucket);
  const started = buckets.reduce((sum, b) => sum + b.started, 0);
  const completed = buckets.reduce((sum, b) => sum + b.completed, 0);
  $("enrollment-caption").textContent = buckets.length === 0
    ? "Live sessions only; pilots are left out."
    : `Live sessions started per ${bucket} (UTC), bars, and how many of them are completed, line: ${count.format(started)} `
      + `started, ${count.format(completed)} completed. A session counts in the ${bucket} it started in; pilots are left out.`;

  const perCondition = new Map(study.conditions.map((c) => [c, { started: 0, completed: 0 }]));
  for (const b of buckets) {
    for (const [condition, figures] of Object.entries(b.byCondition ?? {})) {
      const total = perCondition.get(condition) ?? { started: 0, completed: 0 };
      total.started += figures.started;
      total.completed += figures.completed;
      perCondition.set(condition, total);
    }
  }

  replaceChildren($("enrollment-balance"), perCondition.size === 0
    ? h("p", { className: "note", text: "This study has no conditions." })
    : figuresTable(`Balance per condition of ${study.title}`, ["Condition", "Started", "Completed"],
      [...perCondition].map(([condition, f]) => [condition, f.started, f.completed])));
  replaceChildren($("enrollment-table"), buckets.length === 0
    ? h("p", { className: "note", text: "No live participant has started yet." })
    : figuresTable(`Enrollment of ${study.title} per ${bucket}`, [bucket === "hour" ? "Hour (UTC)" : "Day (UTC)", "Started", "Completed"],
      buckets.map((b) => [formatBucket(Date.parse(b.start), bucket), b.started, b.completed])));
}

function resizeChart() {
  if (!state.chart) {
    return;
  }

  const width = Math.max($("enrollment-chart").clientWidth, 240);
  state.chart.setSize({ width, height: width < 480 ? 220 : 280 });
}

// Start and sign-out

/** Forgets what was shown (on sign-out). */
export function clearStudies() {
  state.studies = [];
  state.editing = null;
  state.enrollmentOf = null;
  state.chart?.destroy();
  state.chart = null;
  $("studies-list").replaceChildren();
  $("studies-status").textContent = "";
  $("study-form").hidden = true;
  $("enrollment").hidden = true;
  if ($("study-close-dialog").open) {
    $("study-close-dialog").close();
  }
}

/** Wires the section; `hooks` come from admin.js: signedOutBy(error), describe(error), changed() after a change. */
export function initStudies(hooks) {
  state.hooks = hooks;
  $("study-new").addEventListener("click", () => showForm());
  $("studies-refresh").addEventListener("click", () => loadStudies({ announce: true }));
  $("study-form").addEventListener("submit", saveStudy);
  $("study-cancel").addEventListener("click", hideForm);
  $("study-close-dialog").addEventListener("close", closeAnswered);
  for (const radio of document.querySelectorAll("input[name=enrollment-bucket]")) {
    radio.addEventListener("change", () => {
      const study = state.studies.find((s) => s.id === state.enrollmentOf);
      if (study) {
        loadEnrollment(study);
      }
    });
  }

  // Redraw at the new width after a resize settles.
  window.addEventListener("resize", () => {
    clearTimeout(state.resize);
    state.resize = setTimeout(resizeChart, 150);
  });
}
