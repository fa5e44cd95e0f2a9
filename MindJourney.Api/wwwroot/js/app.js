// MindJourney participant page: Press Play → welcome toast with the visitor number → levels with a progress
// tracker → completion. Routes: api.js. Everything the server says is shown as text, never as HTML.

import { api } from "./api.js";
import { h, replaceChildren, focusElement, uid } from "./dom.js";
import { MediaAnswer, responseTypeOf } from "./media-answer.js";
import { visitorStore, newIdempotencyKey, pageMode, pageStudy, pilotToken } from "./storage.js";
import { showStatus, showError, clearErrors, dismissStatus } from "./toast.js";

const MAX_TEXT_LENGTH = 5000;

const state = {
  experiment: null,
  session: null,
  sessionSecret: null, // returned once by the session's start; reads and updates the session
  levels: new Map(), // experimentId → levels, ordered by levelNumber
  leaveView: null, // cleanup of the current view (camera, timers)
  busy: false,
  uploading: false,
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

function setSession(session) {
  if (session.sessionSecret) {
    state.sessionSecret = session.sessionSecret;
  }

  state.session = session;
  visitorStore.remember(session);
  updateTracker(session);
}

// ---------------------------------------------------------------- views

function showView(...children) {
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

function showComplete({ focus = true } = {}) {
  const visitor = visitorLabel(state.session);
  const heading = h("h1", { tabindex: "-1", "data-testid": "complete-heading" },
    visitor ? `Thank you, ${visitor}` : "Thank you");
  showView(h("div", { className: "start", "data-testid": "complete" },
    h("div", { className: "done-mark", "aria-hidden": "true" }, "✓"),
    heading,
    h("p", { className: "lead" }, "Your journey is complete and your answers are saved. You can close this page now.")));
  if (focus) {
    focusElement(heading);
  }
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

  return { key: newIdempotencyKey(), userId: userSecret ? visitorStore.userId : null, userSecret };
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

    session = await api.startSession(body, attempt.key, attempt.userId ? attempt.userSecret : null);
  } catch (error) {
    state.busy = false;
    if (play) {
      play.disabled = false;
      play.lastChild.textContent = "Press Play to Begin";
    }

    if (error.status === 404 && attempt.userId) {
      // The visitor we remembered is unknown here, or the kept secret no longer proves it (a new database, a
      // cleared account): start a new person.
      visitorStore.forgetUser();
      return startSession(newAttempt());
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
  const formError = h("p", { className: "form-error", role: "alert", "data-testid": "form-error" });
  const form = h("form", { "aria-labelledby": heading.id },
    fields.map((f) => f.element),
    formError,
    h("div", { className: "actions" }, submit));
  form.noValidate = true;

  // What this visit to the level already saved, so a retry after a failure sends only what is missing.
  const saved = new Map();

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (state.busy) {
      return;
    }

    formError.textContent = "";
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
    try {
      await saveAnswers(level, fields, saved);
      const next = isLast
        // The API completes a session only at its last level: say which level it ends at.
        ? await api.updateSession(session.id, state.sessionSecret, { currentLevel: session.totalLevels, isCompleted: true })
        : await api.updateSession(session.id, state.sessionSecret, { currentLevel: level.levelNumber + 1 });
      state.busy = false;
      setSession(next);
      if (isLast) {
        showComplete();
      } else {
        await enterLevel(next.currentLevel);
      }
    } catch (error) {
      state.busy = false;
      submit.disabled = false;
      submit.textContent = isLast ? "Finish" : "Continue";
      formError.textContent = `${failureMessage(error, "save your answers")} Your answers are still here: press ${submit.textContent} to try again.`;
      submit.focus();
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

async function saveAnswers(level, fields, saved) {
  const sessionId = state.session.id;
  const levelId = String(level.id);

  for (const field of fields) {
    const questionId = String(field.question.id);
    if (field.media) {
      const answer = field.media.answer;
      if (saved.get(questionId) === answer) {
        continue;
      }

      const created = await uploadMedia(field.media, { sessionId, levelId, questionId, answer });
      saved.set(questionId, answer);
      announceUpload(created);
    } else {
      const text = field.value();
      if (saved.get(questionId) === text) {
        continue;
      }

      await api.textResponse({ sessionId, levelId, questionId, text });
      saved.set(questionId, text);
    }
  }
}

async function uploadMedia(widget, { sessionId, levelId, questionId, answer }) {
  const { blob, fileName, durationMs, source } = answer;
  widget.showUploadProgress(0);
  widget.setLocked(true);
  state.uploading = true;
  try {
    const created = await api.uploadResponse({
      sessionId, levelId, questionId,
      responseType: responseTypeOf(blob.type),
      responseData: { durationMs, mimeType: blob.type || null, size: blob.size, source },
      file: blob,
      fileName,
    }, (fraction) => widget.showUploadProgress(fraction));
    widget.showUploadOutcome(created?.storage?.status);
    return created;
  } catch (error) {
    widget.showUploadFailed();
    throw error;
  } finally {
    state.uploading = false;
    widget.setLocked(false);
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

  setSession(session);
  const visitor = visitorLabel(session);
  if (session.isCompleted) {
    showComplete({ focus: false });
  } else {
    showStatus(visitor ? `Welcome back, ${visitor}!` : "Welcome back", { testId: "welcome-toast" });
    await enterLevel(session.currentLevel, { focus: true });
  }

  return true;
}

async function init() {
  clearErrors();
  try {
    const sessionId = visitorStore.sessionId;
    if (sessionId && await resume(sessionId)) {
      return;
    }

    state.experiment = await api.activeExperiment(pageStudy, pilotToken);
  } catch (error) {
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
  if (state.uploading) {
    event.preventDefault();
    event.returnValue = "";
  }
});

init();
