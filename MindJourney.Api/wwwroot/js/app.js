// MindJourney participant page: Press Play → welcome toast with the visitor number → levels with a progress
// tracker → completion. Routes: api.js. Everything the server says is shown as text, never as HTML.
// Answers and the steps to the next level go through the outbox (outbox.js): kept on the device first, sent in order,
// and the line under the tracker always says whether they are saved.

import { api } from "./api.js";
import { anotherPanelPerson, recruitmentFrom, showCompletion } from "./completion.js";
import { h, replaceChildren, focusElement, uid } from "./dom.js";
import { MediaAnswer, responseTypeOf } from "./media-answer.js";
import { Outbox, SaveState, MemoryReason } from "./outbox.js";
import { visitorStore, newIdempotencyKey, pageMode, pageStudy, pilotToken } from "./storage.js";
import { showStatus, showError, clearErrors, dismissStatus } from "./toast.js";
import { showStudyRefusal } from "./study-screens.js";
import { offerWithdrawal, withdrawnScreen, isWithdrawal } from "./withdrawal.js";

const MAX_TEXT_LENGTH = 5000;

// Continue waits this long for the level's answers to arrive (longer while a file is still moving), then goes on
// while the outbox keeps sending.
const CONTINUE_WAIT_MS = 10_000;

const SAVE_STATE_TEXT = {
  [SaveState.saved]: "Saved",
  [SaveState.saving]: "Saving…",
  [SaveState.offline]: "You are offline — your answers are kept on this device and will be sent when you are back",
};

const MEMORY_NOTE = {
  [MemoryReason.unavailable]: "This browser doesn't let the page keep your answers on this device (a private window, "
    + "perhaps). Please keep this page open until it says Saved.",
  [MemoryReason.quota]: "This device has no room left to keep your answers, so the latest are kept only while this "
    + "page is open. Please keep it open until it says Saved.",
};

const state = {
  experiment: null,
  session: null,
  sessionSecret: null, // returned once by the session's start; reads and updates the session
  levels: new Map(), // experimentId → levels, ordered by levelNumber
  leaveView: null, // cleanup of the current view (camera, timers)
  busy: false,
  outbox: null,
  media: new Map(), // outbox key → the video/voice answer on screen that it came from
  withdrawn: false, // the person withdrew: nothing of the journey is shown again on this page
};

const view = () => document.getElementById("view");

// ---------------------------------------------------------------- words

// A pilot's number comes from its own sequence: "Pilot #3" is not "Visitor #3".
const visitorLabel = (session) => (session?.visitorNumber ?? null) === null ? null
  : `${session.mode === "pilot" ? "Pilot" : "Visitor"} #${session.visitorNumber}`;

function trackerText(session) {
  const parts = [];
  const visitor = visitorLabel(session);
  if (visitor) {
    parts.push(visitor);
  }

  parts.push(`Level ${session.currentLevel}`, `${session.percentComplete}% Complete`);
  return parts.join(" • ");
}

function failureMessage(error, what) {
  if (error.status === 0) {
    return `We couldn't reach MindJourney to ${what}. Please check your connection and try again.`;
  }

  if (error.status === 429) {
    const wait = error.retryAfterSeconds ? ` in ${error.retryAfterSeconds} seconds` : " in a moment";
    return `Many sessions were started from your network just now. Please try again${wait}.`;
  }

  if (error.status >= 500) {
    return `Something went wrong on our side while trying to ${what}. Please try again.`;
  }

  if (error.status === 413) {
    return "That file is too large to upload. Please record a shorter answer or choose a smaller file.";
  }

  return `We couldn't ${what}.${error.detail ? ` ${error.detail}` : ""}`;
}

// ---------------------------------------------------------------- tracker

function updateTracker(session) {
  const tracker = document.getElementById("tracker");
  if (!session) {
    tracker.hidden = true;
    return;
  }

  document.getElementById("tracker-text").textContent = trackerText(session);
  document.getElementById("tracker-fill").style.width = `${Math.min(100, Math.max(0, session.percentComplete))}%`;
  tracker.hidden = false;
}

// ---------------------------------------------------------------- saving

/** The line under the tracker: Saved, Saving…, or offline, and why answers live in memory only, if they do. */
function showSaveState(outboxState) {
  const bar = document.getElementById("save-state");
  const text = document.getElementById("save-state-text");
  const words = SAVE_STATE_TEXT[outboxState.view];
  if (text.textContent !== words) {
    text.textContent = words;
  }

  bar.dataset.state = outboxState.view;
  const note = document.getElementById("save-state-note");
  note.textContent = outboxState.memoryReason ? MEMORY_NOTE[outboxState.memoryReason] : "";
  note.hidden = !outboxState.memoryReason;
  bar.hidden = !state.session && outboxState.pending === 0;
}

/** percentComplete as the API computes it (SessionDetails.Percent), for a step still in the outbox. */
function percentOf(currentLevel, totalLevels, isCompleted) {
  return isCompleted ? 100 : totalLevels <= 0 ? 0 : Math.min(100, Math.max(0, Math.floor(currentLevel * 100 / totalLevels)));
}

/** The session as it will be once the outbox has sent its steps: the participant sees where they are. */
function withPendingProgress(session, progress) {
  const currentLevel = Math.max(session.currentLevel, progress.currentLevel ?? 0);
  const isCompleted = session.isCompleted || progress.isCompleted;
  return { ...session, currentLevel, isCompleted, percentComplete: percentOf(currentLevel, session.totalLevels, isCompleted) };
}

function onSent(entry, body) {
  if (entry.kind === "progress") {
    // A step the page has already taken on screen must not move the tracker back.
    if (body?.id === state.session?.id && (body.currentLevel >= state.session.currentLevel || body.isCompleted)) {
      setSession(body);
    }

    return;
  }

  const widget = state.media.get(entry.key);
  if (entry.file) {
    widget?.showUploadOutcome(body?.storage?.status);
    announceUpload(body);
  }
}

function onRefused(entry, error) {
  if (isWithdrawal(error)) {
    showWithdrawn(); // an answer sent after they withdrew (elsewhere): not an error
    return;
  }

  state.media.get(entry.key)?.showUploadFailed();
  if (entry.kind === "progress") {
    return; // The session moved on or was closed elsewhere; the answers themselves are not affected.
  }

  const what = entry.label ? `your answer to “${entry.label}”` : "one of your answers";
  const why = error.status === 413 ? "it is larger than MindJourney accepts"
    : (error.detail?.replace(/[.\s]+$/, "") || `it was refused (${error.status})`);
  showError(`We couldn't save ${what} (level ${entry.levelNumber}): ${why}. It has been removed from this device; `
    + "your other answers are not affected.", { focusRetry: false });
}

function onProgress(entry, fraction) {
  state.media.get(entry.key)?.showUploadProgress(fraction);
}

function setSession(session) {
  if (state.withdrawn) {
    return;
  }

  if (session.sessionSecret) {
    state.sessionSecret = session.sessionSecret;
  }

  state.session = session;
  visitorStore.remember(session);
  updateTracker(session);
  offerWithdrawal(session.id, state.sessionSecret, showWithdrawn);
  if (state.outbox) {
    showSaveState(state.outbox.state);
  }
}

// ---------------------------------------------------------------- views

function showView(...children) {
  if (state.withdrawn) {
    return; // a level the page was still moving to after the withdrawal
  }

  state.leaveView?.();
  state.leaveView = null;
  replaceChildren(view(), ...children);
}

function showMessage(title, text) {
  updateTracker(null);
  const heading = h("h1", { tabindex: "-1" }, title);
  showView(heading, h("p", { className: "lead" }, text));
  return heading;
}

function showWithdrawn() {
  if (state.withdrawn) {
    return;
  }

  updateTracker(null);
  clearErrors();
  showView(withdrawnScreen());
  state.withdrawn = true;
  focusElement(view().querySelector("h1"));
}

function showStart() {
  updateTracker(null);
  const experiment = state.experiment;
  const play = h("button", { type: "button", id: "play", className: "button button-large" },
    h("span", { className: "play-icon", "aria-hidden": "true" }), "Press Play to Begin");
  play.addEventListener("click", () => startSession(newAttempt()));

  const levels = experiment.totalLevels;
  showView(h("div", { className: "start", "data-testid": "start" },
    h("h1", {}, experiment.title || "MindJourney"),
    experiment.description ? h("p", { className: "lead" }, experiment.description) : null,
    play,
    h("p", { className: "note" },
      `${levels} short ${levels === 1 ? "level" : "levels"}. Your progress is saved as you go.`)));
}

// The completion screen (completion.js): back to the panel with the session's completionUrl, else a thank-you.
function showComplete({ focus = true } = {}) {
  state.leaveView?.();
  state.leaveView = showCompletion(state.session, visitorLabel(state.session), { focus });
}

// ---------------------------------------------------------------- Press Play

/**
 * One click of Press Play is one attempt: `{ key, userId, userSecret }`. The kept person is resumed only with the
 * secret kept beside them (the API's proof); without one the click starts a new person. Retry repeats the same
 * attempt (same Idempotency-Key), so a request that did reach the server returns the same session and number.
 */
function newAttempt() {
  const userSecret = visitorStore.userSecret;
  if (visitorStore.userId && !userSecret) {
    visitorStore.forgetUser();
  }

  // A panel's ids on the link name the person on any device: they go instead of the kept user, with every retry.
  const recruitment = recruitmentFrom(state.experiment?.sonaParameter);
  return { key: newIdempotencyKey(), userId: userSecret && !recruitment ? visitorStore.userId : null, userSecret, recruitment };
}

async function startSession(attempt) {
  if (state.busy) {
    return;
  }

  state.busy = true;
  clearErrors();
  const play = document.getElementById("play");
  if (play) {
    play.disabled = true;
    play.lastChild.textContent = "Starting…";
  }

  let session;
  try {
    const body = { experimentId: state.experiment.id };
    if (pageMode === "pilot") {
      body.mode = pageMode;
      body.pilotToken = pilotToken;
    }

    if (attempt.userId) {
      body.userId = attempt.userId;
    }

    if (attempt.recruitment) {
      body.recruitment = attempt.recruitment;
    }

    session = await api.startSession(body, attempt.key, attempt.userId ? attempt.userSecret : null);
  } catch (error) {
    state.busy = false;
    if (play) {
      play.disabled = false;
      play.lastChild.textContent = "Press Play to Begin";
    }

    if (isWithdrawal(error)) {
      showWithdrawn();
      return;
    }

    if (error.status === 404 && attempt.userId) {
      // The visitor we remembered is unknown here, or the kept secret no longer proves it (a new database, a
      // cleared account): start a new person.
      visitorStore.forgetUser();
      return startSession(newAttempt());
    }

    if (error.status === 410) {
      showMessage("You have withdrawn from this study", "Your data was erased as you asked, so this study cannot go on. "
        + "Thank you for your time.");
      return;
    }

    // Full, closed or not open yet: a screen of its own. Nothing was started (no session kept, nothing in the outbox),
    // so the same link works again once the study takes people.
    if (showStudyRefusal(error)) {
      return;
    }

    showError(failureMessage(error, "start your session"), {
      onRetry: error.retryable ? () => {
        document.getElementById("play")?.focus();
        startSession(attempt);
      } : undefined,
    });
    return;
  }

  state.busy = false;
  setSession(session);
  const visitor = visitorLabel(session);
  showStatus(visitor ? `Welcome, ${visitor}!` : "Session started", { testId: "welcome-toast" });
  await enterLevel(session.currentLevel);
}

// ---------------------------------------------------------------- levels

async function levelsOf(experimentId) {
  if (!state.levels.has(experimentId)) {
    const levels = await api.levels(experimentId);
    levels.sort((a, b) => a.levelNumber - b.levelNumber);
    state.levels.set(experimentId, levels);
  }

  return state.levels.get(experimentId);
}

async function enterLevel(levelNumber, { focus = true } = {}) {
  let levels;
  try {
    levels = await levelsOf(state.session.experimentId);
  } catch (error) {
    showError(failureMessage(error, "load the next questions"), {
      onRetry: () => enterLevel(levelNumber, { focus }),
    });
    return;
  }

  const level = levels.find((l) => l.levelNumber === levelNumber);
  if (!level) {
    showMessage("This level isn't available", "Please reload the page in a moment.");
    return;
  }

  renderLevel(level, { focus });
}

function questionsOf(level) {
  return Array.isArray(level.questions) ? level.questions.filter((q) => q && typeof q === "object") : [];
}

const isMediaQuestion = (question) => question.type === "video" || question.type === "voice";

function textQuestion(question) {
  const id = uid("answer");
  const errorId = `${id}-error`;
  const input = h("textarea", {
    id, name: String(question.id ?? id), rows: "4", maxlength: String(MAX_TEXT_LENGTH),
    "aria-describedby": errorId, "data-question-id": question.id,
  });
  const error = h("p", { className: "field-error", id: errorId, hidden: true });
  const element = h("div", { className: "question" },
    h("label", { for: id, className: "question-label" },
      question.prompt ?? "Your answer", question.required === false ? " (optional)" : null),
    input,
    error);

  return {
    question,
    element,
    validate() {
      const ok = input.value.trim().length > 0 || question.required === false;
      input.setAttribute("aria-invalid", ok ? "false" : "true");
      error.textContent = ok ? "" : "Please write an answer before you continue.";
      error.hidden = ok;
      if (!ok) {
        input.focus();
      }

      return ok;
    },
    value: () => input.value.trim(),
    focus: () => input.focus(),
  };
}

function renderLevel(level, { focus }) {
  const session = state.session;
  const heading = h("h1", { id: uid("level"), tabindex: "-1", "data-testid": "level-heading" },
    `Level ${level.levelNumber}: ${level.title || `Level ${level.levelNumber}`}`);

  const media = [];
  const fields = questionsOf(level).map((question) => {
    if (isMediaQuestion(question)) {
      const answer = new MediaAnswer(question);
      media.push(answer);
      return { question, element: answer.element, media: answer };
    }

    return textQuestion(question);
  });

  const isLast = level.levelNumber >= session.totalLevels;
  const submit = h("button", { type: "submit", className: "button", "data-testid": "continue" },
    isLast ? "Finish" : "Continue");
  const form = h("form", { "aria-labelledby": heading.id },
    fields.map((f) => f.element),
    h("div", { className: "actions" }, submit));
  form.noValidate = true;

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (state.busy) {
      return;
    }

    for (const field of fields) {
      const ok = field.media ? field.media.requireAnswer() : field.validate();
      if (!ok) {
        return;
      }
    }

    state.busy = true;
    submit.disabled = true;
    submit.textContent = "Saving…";
    dismissStatus("welcome-toast");
    media.forEach((m) => m.setLocked(true));
    // The API completes a session only at its last level: say which level it ends at.
    const changes = isLast ? { currentLevel: session.totalLevels, isCompleted: true } : { currentLevel: level.levelNumber + 1 };
    // Kept on the device (or, failing that, in memory), so from here nothing the participant gave can be lost.
    await keepAnswers(level, fields);
    await state.outbox.addProgress(session.id, state.sessionSecret, changes, newIdempotencyKey());
    const sent = await settleForAWhile();
    state.busy = false;
    // On screen the participant moves on at once; the outbox brings the server along.
    setSession(withPendingProgress(state.session, changes));
    if (isLast) {
      if (sent) {
        showComplete();
      } else {
        await showCompleting();
      }
    } else {
      await enterLevel(changes.currentLevel);
    }
  });

  showView(h("div", { className: "level", "data-testid": "level", "data-level": String(level.levelNumber) },
    heading,
    level.description ? h("p", { className: "lead" }, level.description) : null,
    form));
  state.leaveView = () => media.forEach((m) => m.destroy());

  if (focus) {
    focusElement(heading);
  }
}

/** Every answer of the level into the outbox, in the order of its questions, each with a key of its own. */
async function keepAnswers(level, fields) {
  state.media.clear();
  const common = { sessionId: state.session.id, levelNumber: level.levelNumber, levelId: String(level.id) };
  for (const field of fields) {
    const questionId = String(field.question.id);
    const label = typeof field.question.prompt === "string" ? field.question.prompt.slice(0, 80) : null;
    const key = newIdempotencyKey();
    if (field.media) {
      const { blob, fileName, durationMs, source } = field.media.answer;
      state.media.set(key, field.media);
      field.media.showUploadProgress(0);
      await state.outbox.addAnswer({
        ...common, questionId, label,
        responseType: responseTypeOf(blob.type),
        responseData: { durationMs, mimeType: blob.type || null, size: blob.size, source },
        file: blob,
        fileName,
      }, key);
    } else {
      await state.outbox.addAnswer({ ...common, questionId, label, responseType: "text", responseData: { text: field.value() } },
        key);
    }
  }
}

/** True when the outbox emptied; false when it stalled (offline, a retry waiting) or took too long. An upload that is
 * still moving extends the wait, as the participant sees its progress. */
function settleForAWhile() {
  return new Promise((resolve) => {
    let timer = null;
    const finish = (sent) => {
      clearTimeout(timer);
      stopProgress();
      resolve(sent);
    };
    const restart = () => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(false), CONTINUE_WAIT_MS);
    };
    const stopProgress = state.outbox.on("progress", restart);
    restart();
    state.outbox.settle().then(finish);
  });
}

/** After Finish, while answers still wait: the thank-you (and any completion link) only once all have arrived. */
async function showCompleting() {
  updateTracker(state.session);
  const heading = h("h1", { tabindex: "-1", "data-testid": "completing-heading" }, "Almost done");
  showView(h("div", { className: "start", "data-testid": "completing" },
    heading,
    h("p", { className: "lead" }, "Your last answers are still on their way. This page will thank you as soon as every "
      + "answer has arrived. " + (state.outbox.state.memoryReason ? "Please keep this page open until then."
      : "If you have to leave, open this page again later: your answers are kept on this device."))));
  focusElement(heading);
  await state.outbox.drained();
  if (document.querySelector("[data-testid=completing]")) {
    showComplete();
  }
}

function announceUpload(created) {
  const kind = created?.responseType === "voice" ? "voice note" : "video";
  if (created?.storage?.status === "pending") {
    showStatus(`Your ${kind} is saved and will finish uploading in the background. Nothing is lost.`,
      { testId: "upload-toast", timeoutMs: 12000 });
  } else {
    showStatus(`Your ${kind} is uploaded.`, { testId: "upload-toast" });
  }
}

// ---------------------------------------------------------------- start-up

async function resume(sessionId) {
  let session;
  try {
    state.sessionSecret = visitorStore.sessionSecret;
    session = await api.session(sessionId, state.sessionSecret);
  } catch (error) {
    if (error.status === 404 || error.status === 401) {
      // Gone, or no longer ours to read (no secret kept): start a new session; the user keeps their number.
      visitorStore.forgetSession();
      return false;
    }

    throw error;
  }

  // Steps the outbox could not send yet: the participant goes on where they were, not where the server thinks.
  setSession(withPendingProgress(session, await state.outbox.pendingProgress(session.id)));
  session = state.session;
  const visitor = visitorLabel(session);
  if (session.isCompleted && state.outbox.state.pending > 0) {
    await showCompleting();
  } else if (session.isCompleted) {
    showComplete({ focus: false });
  } else {
    showStatus(visitor ? `Welcome back, ${visitor}!` : "Welcome back", { testId: "welcome-toast" });
    await enterLevel(session.currentLevel, { focus: true });
  }

  return true;
}

async function openOutbox() {
  if (state.outbox) {
    return;
  }

  state.outbox = await Outbox.open();
  state.outbox.on("change", showSaveState);
  state.outbox.on("sent", onSent);
  state.outbox.on("refused", onRefused);
  state.outbox.on("progress", onProgress);
  showSaveState(state.outbox.state);
  // What an earlier visit left goes first, before the session is read or anything new is sent.
  state.outbox.kick();
  await settleForAWhile();
}

async function init() {
  clearErrors();
  await openOutbox();
  if (anotherPanelPerson()) {
    visitorStore.forgetUser(); // a panel's link for someone else: they start (or continue) as themselves
  }

  try {
    const sessionId = visitorStore.sessionId;
    if (sessionId && await resume(sessionId)) {
      return;
    }

    state.experiment = await api.activeExperiment(pageStudy, pilotToken);
  } catch (error) {
    if (showStudyRefusal(error, { fromLink: pageStudy !== null })) {
      return;
    }

    if (error.status === 404) {
      showMessage("No journey is open right now", "Please come back a little later.");
      return;
    }

    showMessage("MindJourney", "We couldn't load the page just now.");
    showError(failureMessage(error, "load the page"), { onRetry: init });
    return;
  }

  showStart();
}

window.addEventListener("beforeunload", (event) => {
  // Answers on the device survive the reload; answers in memory only (no IndexedDB) would be lost.
  if (state.outbox?.state.unsafeToLeave) {
    event.preventDefault();
    event.returnValue = "";
  }
});

init();
