// A video or voice answer: recorded in the page with MediaRecorder (camera and/or microphone through
// getUserMedia: Record, Stop, Record again, with a preview), or picked as a file. The level view asks for
// `answer` when the participant continues and uploads it.

import { h, uid } from "./dom.js";

const MAX_RECORDING_MS = 2 * 60 * 1000;

const VIDEO_TYPES = ["video/webm;codecs=vp9,opus", "video/webm;codecs=vp8,opus", "video/webm", "video/mp4"];
const AUDIO_TYPES = ["audio/webm;codecs=opus", "audio/webm", "audio/ogg;codecs=opus", "audio/mp4"];

const canRecord = () =>
  typeof window.MediaRecorder === "function" && typeof navigator.mediaDevices?.getUserMedia === "function";

function pickMimeType(candidates) {
  if (typeof MediaRecorder.isTypeSupported !== "function") {
    return "";
  }

  return candidates.find((type) => MediaRecorder.isTypeSupported(type)) ?? "";
}

function extensionFor(type) {
  if (type.includes("mp4")) {
    return type.startsWith("audio/") ? "m4a" : "mp4";
  }

  return type.includes("ogg") ? "ogg" : "webm";
}

function formatClock(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, "0")}`;
}

function describeSeconds(ms) {
  const seconds = Math.max(1, Math.floor(ms / 1000)); // the same whole seconds as the clock beside Record
  return seconds === 1 ? "1 second" : `${seconds} seconds`;
}

/** "video" or "voice" for the response type, from a blob's or file's media type. */
export function responseTypeOf(type) {
  return String(type).toLowerCase().startsWith("audio/") ? "voice" : "video";
}

export class MediaAnswer {
  /**
   * @param question `{ id, type, prompt, accepts? }` with type video or voice
   * @param onChange called whenever the answer appears, changes or goes away
   */
  constructor(question, onChange) {
    this.question = question;
    this.onChange = onChange ?? (() => {});
    this.answer = null; // { blob, fileName, durationMs, source: "recording" | "file" }
    this.stream = null;
    this.recorder = null;
    this.objectUrl = null;
    this.timer = null;

    const accepts = Array.isArray(question.accepts) ? question.accepts.filter((a) => a === "video" || a === "voice") : [];
    this.modes = accepts.length > 0 ? accepts : [question.type === "voice" ? "voice" : "video"];
    this.mode = this.modes[0];

    this.element = this.#render();
  }

  #render() {
    const base = uid("media");
    this.promptId = `${base}-prompt`;
    this.errorId = `${base}-error`;

    this.stage = h("div", { className: "media-stage", "data-testid": "media-stage" });
    this.timerText = h("span", { className: "timer", "aria-hidden": "true" });
    this.status = h("p", { className: "media-status", role: "status", "data-testid": "media-status" });
    this.error = h("p", { className: "field-error", id: this.errorId, hidden: true });

    this.recordButton = h("button", { type: "button", className: "button button-record", "aria-describedby": this.errorId, "data-testid": "record" },
      h("span", { className: "record-dot", "aria-hidden": "true" }), "Record");
    this.stopButton = h("button", { type: "button", className: "button", hidden: true, "data-testid": "stop" },
      h("span", { className: "stop-square", "aria-hidden": "true" }), "Stop");
    this.recordButton.addEventListener("click", () => this.#start());
    this.stopButton.addEventListener("click", () => this.#stop());

    const fileId = `${base}-file`;
    this.fileInput = h("input", {
      type: "file", id: fileId, accept: "video/*,audio/*", "aria-describedby": `${base}-file-hint ${this.errorId}`,
      "data-testid": "file-input",
    });
    this.fileInput.addEventListener("change", () => this.#takeFile());

    this.uploadBox = h("div", { className: "upload", hidden: true, "data-testid": "upload" });

    const children = [
      h("legend", { id: this.promptId, text: this.question.prompt ?? "Record your answer" }),
    ];

    if (this.modes.length > 1) {
      const name = `${base}-mode`;
      children.push(h("fieldset", { className: "media-modes" },
        h("legend", {}, "Record as"),
        this.modes.map((mode) => {
          const input = h("input", { type: "radio", name, value: mode, checked: mode === this.mode });
          input.addEventListener("change", () => {
            if (input.checked) {
              this.mode = mode;
              this.#showIdle();
            }
          });
          return h("label", { className: "choice" }, input, mode === "video" ? "Video (camera and microphone)" : "Voice only (microphone)");
        })));
    }

    const recordingAvailable = canRecord();
    if (recordingAvailable) {
      children.push(this.stage, h("div", { className: "media-controls" }, this.recordButton, this.stopButton, this.timerText));
    }

    children.push(this.status, this.error);
    children.push(h("p", { className: "media-or" }, recordingAvailable ? "or" : "Choose a file"));
    children.push(h("div", { className: "file-picker" },
      h("label", { for: fileId }, "Choose a video or audio file"),
      this.fileInput,
      h("p", { className: "note", id: `${base}-file-hint` }, "Any video or audio file from your device.")));
    children.push(this.uploadBox);

    const fieldset = h("fieldset", { className: "question media", "data-question-id": this.question.id }, children);
    this.#showIdle(recordingAvailable ? null
      : "Recording isn't available in this browser. You can choose a video or audio file instead.");
    return fieldset;
  }

  #showIdle(message) {
    if (this.recorder) {
      return;
    }

    if (!this.answer && this.mode === "video") {
      this.stage.className = "media-stage";
      this.stage.replaceChildren(h("p", { className: "media-placeholder" }, "Your camera preview will appear here."));
    } else if (!this.answer) {
      this.stage.className = "media-stage media-stage-audio";
      this.stage.replaceChildren(h("p", { className: "media-status" }, "Voice only: just your microphone."));
    }

    this.status.textContent = message ?? (this.answer ? this.status.textContent
      : `Press Record to start${this.mode === "video" ? " your camera" : " your microphone"}, and Stop when you're done (up to ${MAX_RECORDING_MS / 60000} minutes).`);
  }

  async #start() {
    this.#clearError();
    this.recordButton.disabled = true;
    try {
      this.stream = await navigator.mediaDevices.getUserMedia(this.mode === "video"
        ? { audio: true, video: { width: { ideal: 640 }, height: { ideal: 480 } } }
        : { audio: true });
    } catch (error) {
      this.recordButton.disabled = false;
      const denied = error?.name === "NotAllowedError" || error?.name === "SecurityError";
      this.#showError(denied
        ? "We weren't allowed to use your camera or microphone. You can allow it in your browser's settings, or choose a file instead."
        : "We couldn't start your camera or microphone. You can choose a file instead.");
      return;
    }

    const mimeType = pickMimeType(this.mode === "video" ? VIDEO_TYPES : AUDIO_TYPES);
    let recorder;
    try {
      recorder = mimeType ? new MediaRecorder(this.stream, { mimeType }) : new MediaRecorder(this.stream);
    } catch {
      this.#releaseStream();
      this.recordButton.disabled = false;
      this.#showError("Recording isn't supported here. You can choose a file instead.");
      return;
    }

    this.#discardAnswer();
    const chunks = [];
    recorder.addEventListener("dataavailable", (event) => {
      if (event.data?.size > 0) {
        chunks.push(event.data);
      }
    });
    recorder.addEventListener("stop", () => {
      if (this.destroyed) {
        return;
      }

      const durationMs = Math.round(performance.now() - this.startedAt);
      const type = (recorder.mimeType || mimeType || (this.mode === "video" ? "video/webm" : "audio/webm")).split(";")[0].trim();
      const blob = new Blob(chunks, { type });
      this.#releaseStream();
      clearInterval(this.timer);
      this.recorder = null;
      this.timerText.classList.remove("recording");
      this.timerText.textContent = formatClock(durationMs);
      this.stopButton.hidden = true;
      this.recordButton.hidden = false;
      this.recordButton.disabled = false;
      this.recordButton.lastChild.textContent = "Record again";

      if (blob.size === 0) {
        this.#showError("Nothing was recorded. Please try again, or choose a file instead.");
        this.recordButton.focus();
        return;
      }

      this.#setAnswer({
        blob, fileName: `recording.${extensionFor(type)}`, durationMs, source: "recording",
      }, `Recorded ${describeSeconds(durationMs)} of ${this.mode === "video" ? "video" : "audio"}. Play it back below, record again, or continue.`);
      this.recordButton.focus();
    });

    this.recorder = recorder;
    this.fileInput.value = "";
    this.#showLivePreview();
    this.startedAt = performance.now();
    recorder.start(250);

    this.recordButton.hidden = true;
    this.stopButton.hidden = false;
    this.stopButton.focus();
    this.timerText.classList.add("recording");
    this.timerText.textContent = "0:00";
    this.timer = setInterval(() => {
      const elapsed = performance.now() - this.startedAt;
      this.timerText.textContent = formatClock(elapsed);
      if (elapsed >= MAX_RECORDING_MS) {
        this.#stop();
      }
    }, 250);
    this.status.textContent = `Recording${this.mode === "video" ? " video" : " audio"}. Press Stop when you're done.`;
    this.onChange();
  }

  #stop() {
    if (this.recorder?.state === "recording") {
      this.recorder.stop();
    }
  }

  #showLivePreview() {
    if (this.mode === "video") {
      const live = h("video", { muted: true, playsinline: true, autoplay: true, "aria-label": "Live camera preview" });
      live.muted = true;
      live.srcObject = this.stream;
      this.stage.className = "media-stage";
      this.stage.replaceChildren(live);
    } else {
      this.stage.className = "media-stage media-stage-audio";
      this.stage.replaceChildren(h("p", { className: "media-status" }, "Listening… your microphone is on."));
    }
  }

  async #takeFile() {
    this.#clearError();
    const file = this.fileInput.files?.[0];
    if (!file) {
      return;
    }

    const type = (file.type || "").toLowerCase();
    if (!type.startsWith("video/") && !type.startsWith("audio/")) {
      this.fileInput.value = "";
      this.#showError("That file isn't a video or audio file. Please choose another.");
      return;
    }

    this.#discardAnswer();
    const durationMs = await this.#probeDuration(file);
    this.#setAnswer({ blob: file, fileName: file.name || `answer.${extensionFor(type)}`, durationMs, source: "file" },
      `Chosen: ${file.name}. Play it back below, or continue.`);
  }

  #probeDuration(file) {
    return new Promise((resolve) => {
      const probe = document.createElement(file.type.startsWith("audio/") ? "audio" : "video");
      const url = URL.createObjectURL(file);
      const done = (value) => {
        URL.revokeObjectURL(url);
        resolve(value);
      };
      probe.preload = "metadata";
      probe.addEventListener("loadedmetadata", () =>
        done(Number.isFinite(probe.duration) ? Math.round(probe.duration * 1000) : null));
      probe.addEventListener("error", () => done(null));
      setTimeout(() => done(null), 3000);
      probe.src = url;
    });
  }

  #setAnswer(answer, message) {
    this.answer = answer;
    this.objectUrl = URL.createObjectURL(answer.blob);
    const isAudio = responseTypeOf(answer.blob.type) === "voice";
    const player = h(isAudio ? "audio" : "video", {
      controls: true, playsinline: true, preload: "metadata", src: this.objectUrl, "data-testid": "playback",
      "aria-label": isAudio ? "Your recorded answer (audio)" : "Your recorded answer (video)",
    });
    this.stage.className = isAudio ? "media-stage media-stage-audio" : "media-stage";
    this.stage.replaceChildren(player);
    this.status.textContent = message;
    this.uploadBox.hidden = true;
    this.onChange();
  }

  #discardAnswer() {
    if (this.objectUrl) {
      URL.revokeObjectURL(this.objectUrl);
      this.objectUrl = null;
    }

    this.answer = null;
    this.uploaded = null;
  }

  #releaseStream() {
    this.stream?.getTracks().forEach((track) => track.stop());
    this.stream = null;
  }

  #showError(message) {
    this.error.textContent = message;
    this.error.hidden = false;
    this.fileInput.setAttribute("aria-invalid", "true");
  }

  #clearError() {
    this.error.textContent = "";
    this.error.hidden = true;
    this.fileInput.removeAttribute("aria-invalid");
  }

  get isRecording() {
    return this.recorder !== null;
  }

  /** For the level's validation: says what is missing and puts focus where the participant can fix it. */
  requireAnswer() {
    if (this.isRecording) {
      this.#showError("You're still recording. Press Stop first.");
      this.stopButton.focus();
      return false;
    }

    if (!this.answer) {
      this.#showError("Please record an answer, or choose a video or audio file.");
      (canRecord() ? this.recordButton : this.fileInput).focus();
      return false;
    }

    this.#clearError();
    return true;
  }

  /** While the answer uploads it cannot be changed: recording, the mode and the file picker are disabled. */
  setLocked(locked) {
    for (const control of this.element.querySelectorAll("button, input")) {
      control.disabled = locked;
    }
  }

  /** Upload state shown under the answer: a progress bar, then the outcome. */
  showUploadProgress(fraction) {
    const percent = fraction === null ? null : Math.round(fraction * 100);
    let bar = this.uploadBox.querySelector("progress");
    if (!bar || this.uploadBox.hidden) {
      const id = uid("upload");
      bar = h("progress", { id, max: "100" });
      this.uploadLabel = h("label", { for: id }, "Uploading your answer…");
      this.uploadBox.className = "upload";
      this.uploadBox.replaceChildren(this.uploadLabel, bar);
      this.uploadBox.hidden = false;
    }

    if (percent === null) {
      bar.removeAttribute("value");
      this.uploadLabel.textContent = "Uploading your answer…";
    } else {
      bar.value = percent;
      this.uploadLabel.textContent = `Uploading your answer… ${percent}%`;
    }
  }

  showUploadOutcome(storageStatus) {
    this.uploadBox.hidden = false;
    if (storageStatus === "pending") {
      this.uploadBox.className = "upload is-pending";
      this.uploadBox.replaceChildren(h("p", { className: "media-status-text" },
        "Saved. It will finish uploading in the background; nothing is lost."));
    } else {
      this.uploadBox.className = "upload is-done";
      this.uploadBox.replaceChildren(h("p", { className: "media-status-text" }, "Uploaded. Thank you!"));
    }
  }

  showUploadFailed() {
    this.uploadBox.hidden = true;
  }

  /** Stops the camera and microphone and frees the preview; called when the level is left. */
  destroy() {
    this.destroyed = true;
    clearInterval(this.timer);
    if (this.recorder?.state === "recording") {
      try {
        this.recorder.stop();
      } catch {
        // Already stopped.
      }
    }

    this.recorder = null;
    this.#releaseStream();
    if (this.objectUrl) {
      URL.revokeObjectURL(this.objectUrl);
      this.objectUrl = null;
    }
  }
}
