// Full-page message screens, and the ones a study shows when it takes no one new: full, closed, not started yet, or
// a link that names no study. Such a refusal is not an error the participant can fix by retrying, so it gets a calm
// screen of its own instead of an error toast. The API tells the refusals apart by their problem type (RFC 9457).

import { h, replaceChildren, focusElement, uid } from "./dom.js";
import { clearErrors } from "./toast.js";

/** The problem types of a study's refusals (MindJourney.Api's StudyProblems). */
export const StudyProblem = Object.freeze({
  full: "/problems/study-full",
  closed: "/problems/study-closed",
  notOpen: "/problems/study-not-open",
  notFound: "/problems/study-not-found",
});

const STUDY_SCREENS = {
  [StudyProblem.full]: {
    title: "This study is full — thank you for your interest",
    body: "It already has all the participants it needs, so there is nothing more to do here. You can close this page.",
    testId: "study-full",
  },
  [StudyProblem.closed]: {
    title: "This study is closed",
    body: "It is not taking new participants any more. Thank you for your interest; you can close this page.",
    testId: "study-closed",
  },
  [StudyProblem.notOpen]: {
    title: "This study has not started yet",
    body: "Please come back later and open the same link again.",
    testId: "study-not-open",
  },
  [StudyProblem.notFound]: {
    title: "This study link is not valid",
    body: "Please check that you opened the whole link you were given, or ask the researcher for it again.",
    testId: "study-link-invalid",
  },
};

/**
 * Shows a full-page message in place of the page's content: a heading (which takes keyboard focus, and is described
 * by the body, so a screen reader reads both) and a paragraph. Every control of the screen before it, Play included,
 * is gone, and so are error toasts and the progress tracker. The caller first ends what its current view holds
 * (a camera, timers). Returns the heading.
 */
export function showScreen({ title, body, testId = "screen" }) {
  const headingId = uid("screen-title");
  const bodyId = uid("screen-body");
  const heading = h("h1", { id: headingId, tabindex: "-1", "aria-describedby": bodyId, "data-testid": `${testId}-heading` },
    title);
  clearErrors();
  const tracker = document.getElementById("tracker");
  if (tracker) {
    tracker.hidden = true;
  }

  replaceChildren(document.getElementById("view"),
    h("section", { className: "screen", "data-testid": testId, "aria-labelledby": headingId },
      heading,
      h("p", { className: "lead", id: bodyId }, body)));
  focusElement(heading);
  return heading;
}

/**
 * The screen for a study's refusal (`error`, an ApiError with the problem's `type`), shown; false when the error is
 * not one. A study the page cannot find is an invalid link only when the page was opened with one (`fromLink`):
 * without a link, nothing is open yet and the page says so itself.
 */
export function showStudyRefusal(error, { fromLink = true } = {}) {
  const screen = STUDY_SCREENS[error?.type];
  if (!screen || (error.type === StudyProblem.notFound && !fromLink)) {
    return false;
  }

  showScreen(screen);
  return true;
}
