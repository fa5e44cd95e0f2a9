// Toasts in two live regions that exist from page load: #toast-status (role=status, polite) for news such as
// the welcome, #toast-alert (role=alert) for errors. Messages go in as text only.

import { h, replaceChildren, prefersReducedMotion } from "./dom.js";

const statusRegion = () => document.getElementById("toast-status");
const alertRegion = () => document.getElementById("toast-alert");

let statusTimer = null;

function dismiss(toast) {
  if (!toast?.isConnected) {
    return;
  }

  if (prefersReducedMotion()) {
    toast.remove();
    return;
  }

  toast.classList.add("is-leaving");
  setTimeout(() => toast.remove(), 220);
}

/**
 * A calm, polite announcement ("Welcome, Visitor #123!"). It leaves by itself after `timeoutMs`, but never while
 * the pointer or keyboard focus is on it; the × button closes it at once.
 */
export function showStatus(message, { timeoutMs = 9000, testId = "toast" } = {}) {
  clearTimeout(statusTimer);
  const close = h("button", { type: "button", className: "toast-close", "aria-label": "Dismiss message" }, "×");
  const toast = h("div", { className: "toast", "data-testid": testId },
    h("p", { className: "toast-message", text: message }),
    close);
  close.addEventListener("click", () => {
    const hadFocus = toast.contains(document.activeElement);
    dismiss(toast);
    if (hadFocus) {
      document.getElementById("main")?.focus();
    }
  });
  toast.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      close.click();
    }
  });

  const schedule = () => {
    clearTimeout(statusTimer);
    statusTimer = setTimeout(() => {
      if (!toast.matches(":hover, :focus-within")) {
        dismiss(toast);
      } else {
        schedule();
      }
    }, timeoutMs);
  };
  toast.addEventListener("mouseleave", schedule);
  toast.addEventListener("focusout", schedule);

  replaceChildren(statusRegion(), toast);
  schedule();
  return toast;
}

/**
 * An error that stays until it is retried or dismissed. With `onRetry`, a Retry button (which takes keyboard
 * focus, so Enter retries straight away) calls it; the toast goes when the retry starts.
 */
export function showError(message, { onRetry, focusRetry = true } = {}) {
  const buttons = [];
  let retry = null;
  if (onRetry) {
    retry = h("button", { type: "button", className: "toast-button toast-button-primary" }, "Retry");
    buttons.push(retry);
  }

  const close = h("button", { type: "button", className: "toast-close", "aria-label": "Dismiss error" }, "×");
  buttons.push(close);

  const toast = h("div", { className: "toast toast-error", "data-testid": "error-toast" },
    h("p", { className: "toast-message", text: message }),
    buttons);

  close.addEventListener("click", () => {
    const hadFocus = toast.contains(document.activeElement);
    toast.remove();
    if (hadFocus) {
      document.getElementById("main")?.focus();
    }
  });

  toast.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      close.click();
    }
  });

  retry?.addEventListener("click", () => {
    toast.remove();
    onRetry();
  });

  replaceChildren(alertRegion(), toast);
  if (retry && focusRetry) {
    retry.focus();
  }

  return toast;
}

/** Takes away the status toast with this test id (the welcome, once the participant has moved on). */
export function dismissStatus(testId) {
  const toast = statusRegion()?.querySelector(`[data-testid="${testId}"]`);
  if (toast) {
    clearTimeout(statusTimer);
    dismiss(toast);
  }
}

export function clearErrors() {
  alertRegion()?.replaceChildren();
}
