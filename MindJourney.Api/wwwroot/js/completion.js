// The end of a journey: a completion screen that takes a panel's participant back to the panel (the study's
// completionUrl, which the API fills from the researcher's stored template: the page never builds or takes a URL of
// its own), or a thank-you screen for a study without one. And the ids the panels put on the study link, sent with
// Play so a person keeps one number on any device (docs/RESEARCHERS.md, "Recruiting on a panel").

import { h, replaceChildren, focusElement } from "./dom.js";

/** The participant goes back to the panel after this long, unless they press the button first. */
export const REDIRECT_DELAY_MS = 5000;

const PANEL_NAMES = { prolific: "Prolific", mturk: "MTurk", sona: "SONA" };

// Remembered at Play: the panel, so a reload of the completed session names it even when the link's parameter is
// the study's own (SONA's sonaParameter, which only the study's details say); and the person, so that another
// person's link on the same device (a lab computer) starts them rather than resuming whoever was here before.
const SOURCE_KEY = "mindjourney.recruitmentSource";
const PERSON_KEY = "mindjourney.recruitmentPerson";

const personOf = (recruitment) => `${recruitment.source}:${recruitment.participantId}`;

function remember(recruitment) {
  try {
    if (recruitment) {
      window.localStorage.setItem(SOURCE_KEY, recruitment.source);
      window.localStorage.setItem(PERSON_KEY, personOf(recruitment));
    }
  } catch {
    // Storage blocked: the button says "Return", nothing else changes.
  }
}

function remembered(key) {
  try {
    return window.localStorage.getItem(key);
  } catch {
    return null;
  }
}

/** True when the page's link names a panel person other than the one this device last started. */
export function anotherPanelPerson(search = window.location.search) {
  const linked = idsOnLink(null, search);
  return linked !== null && remembered(PERSON_KEY) !== personOf(linked);
}

/**
 * The panel's ids on the page's link, as `POST /api/session` takes them (`recruitment`), or null:
 * Prolific PROLIFIC_PID, STUDY_ID, SESSION_ID; MTurk workerId, hitId, assignmentId; SONA the study's sonaParameter
 * (default `id`); any other link `participant`.
 */
export function recruitmentFrom(sonaParameter, search = window.location.search) {
  const recruitment = idsOnLink(sonaParameter, search);
  remember(recruitment);
  return recruitment;
}

function idsOnLink(sonaParameter, search) {
  const params = new URLSearchParams(search);
  const get = (name) => params.get(name) || null;
  const withIds = (source, participantId, studyId, sessionId) => {
    const recruitment = { source, participantId };
    if (studyId) {
      recruitment.studyId = studyId;
    }

    if (sessionId) {
      recruitment.sessionId = sessionId;
    }

    return recruitment;
  };

  let recruitment = null;
  if (get("PROLIFIC_PID")) {
    recruitment = withIds("prolific", get("PROLIFIC_PID"), get("STUDY_ID"), get("SESSION_ID"));
  } else if (get("workerId")) {
    recruitment = withIds("mturk", get("workerId"), get("hitId"), get("assignmentId"));
  } else if (get(sonaParameter || "id")) {
    recruitment = withIds("sona", get(sonaParameter || "id"));
  } else if (get("participant")) {
    recruitment = withIds("link", get("participant"));
  }

  return recruitment;
}

/** This screen's own small way onto the page: the view's children replaced, the heading focused. */
function showScreen(element, heading, focus) {
  replaceChildren(document.getElementById("view"), element);
  if (focus) {
    focusElement(heading);
  }
}

const isWebUrl = (url) => {
  try {
    return ["http:", "https:"].includes(new URL(url).protocol);
  } catch {
    return false;
  }
};

/**
 * The completion screen of `session` (its visitor label given, "Visitor #3"): with the session's completionUrl, a
 * "Return to Prolific" (MTurk, SONA; "Return" for another link) button and a redirect after REDIRECT_DELAY_MS;
 * without one, the thank-you screen. Returns a function that cancels the redirect (when the view is left).
 */
export function showCompletion(session, visitor, { focus = true } = {}) {
  const heading = h("h1", { tabindex: "-1", "data-testid": "complete-heading" }, visitor ? `Thank you, ${visitor}` : "Thank you");
  const url = session?.completionUrl;
  if (!url || !isWebUrl(url)) {
    showScreen(h("div", { className: "start", "data-testid": "complete" },
      h("div", { className: "done-mark", "aria-hidden": "true" }, "✓"),
      heading,
      h("p", { className: "lead" }, "Your journey is complete and your answers are saved. You can close this page now.")),
    heading, focus);
    return () => {};
  }

  const panel = PANEL_NAMES[remembered(SOURCE_KEY)] ?? null;
  const label = panel ? `Return to ${panel}` : "Return";
  const screen = h("div", { className: "start", "data-testid": "complete", "data-completion": "panel" },
    h("div", { className: "done-mark", "aria-hidden": "true" }, "✓"),
    heading,
    h("p", { className: "lead" }, `Your journey is complete and your answers are saved. ${panel
      ? `Return to ${panel} to confirm that you took part.` : "Return to where you came from to confirm that you took part."}`),
    h("a", { className: "button button-large", href: url, "data-testid": "return-to-panel" }, label),
    h("p", { className: "note", role: "status" }, `You will be taken back automatically in ${REDIRECT_DELAY_MS / 1000} seconds.`));
  showScreen(screen, heading, focus);
  const timer = setTimeout(() => {
    if (screen.isConnected) {
      window.location.assign(url);
    }
  }, REDIRECT_DELAY_MS);
  return () => clearTimeout(timer);
}
