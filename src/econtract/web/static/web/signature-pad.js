/* The signature pad of web/signatures.html, and the typed signature's preview. No library, no inline code.
 *
 * Pointer Events (mouse, pen and touch alike) with pointer capture, so a stroke that leaves the canvas
 * keeps drawing; `touch-action: none` keeps a finger from scrolling the page. Each stroke is a list of
 * points in CSS pixels, kept so the pad can undo the last stroke and redraw itself after a resize; it
 * is drawn as quadratic curves through the midpoints of successive points (the points are the control
 * points), which smooths the jitter of a mouse or finger. A pen's pressure sets the width. The canvas
 * has devicePixelRatio pixels per CSS pixel, so strokes are sharp on high-DPI screens, and a transparent
 * background: the PNG put into the hidden field on submit is the ink alone.
 */
(function () {
  "use strict";

  var INK = "#16225c";
  var BASE_WIDTH = 3.2; // CSS pixels at normal pressure

  function SignaturePad(canvas) {
    this.canvas = canvas;
    this.context = canvas.getContext("2d");
    this.strokes = [];
    this.current = null;
    this.pointerId = null;
    this.listeners = [];
    canvas.style.touchAction = "none";
    this.resize();
    var pad = this;
    canvas.addEventListener("pointerdown", function (event) { pad.down(event); });
    canvas.addEventListener("pointermove", function (event) { pad.move(event); });
    canvas.addEventListener("pointerup", function (event) { pad.up(event); });
    canvas.addEventListener("pointercancel", function (event) { pad.up(event); });
    canvas.addEventListener("lostpointercapture", function (event) { pad.up(event); });
    window.addEventListener("resize", function () { pad.resize(); });
  }

  SignaturePad.prototype.resize = function () {
    var rect = this.canvas.getBoundingClientRect();
    var ratio = Math.max(window.devicePixelRatio || 1, 1);
    this.canvas.width = Math.max(1, Math.round(rect.width * ratio));
    this.canvas.height = Math.max(1, Math.round(rect.height * ratio));
    this.context.setTransform(ratio, 0, 0, ratio, 0, 0);
    this.redraw();
  };

  SignaturePad.prototype.point = function (event) {
    var rect = this.canvas.getBoundingClientRect();
    // A mouse reports 0.5 while a button is down, a pen its pressure, some touch screens 0 or 1.
    var pressure = event.pointerType === "pen" && event.pressure > 0 ? event.pressure : 0.5;
    return { x: event.clientX - rect.left, y: event.clientY - rect.top, w: BASE_WIDTH * (0.5 + pressure) };
  };

  SignaturePad.prototype.down = function (event) {
    if (event.pointerType === "mouse" && event.button !== 0) return;
    if (this.current) return; // one stroke at a time: a second finger is ignored
    event.preventDefault();
    this.canvas.setPointerCapture(event.pointerId);
    this.pointerId = event.pointerId;
    this.current = [this.point(event)];
    this.strokes.push(this.current);
    this.drawDot(this.current[0]);
    this.changed();
  };

  SignaturePad.prototype.move = function (event) {
    if (!this.current || event.pointerId !== this.pointerId) return;
    event.preventDefault();
    var events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
    if (!events.length) events = [event];
    for (var i = 0; i < events.length; i++) {
      var next = this.point(events[i]);
      var last = this.current[this.current.length - 1];
      if (Math.abs(next.x - last.x) + Math.abs(next.y - last.y) < 0.8) continue; // too close to matter
      this.current.push(next);
      this.drawSegment(this.current, this.current.length - 1);
    }
  };

  SignaturePad.prototype.up = function (event) {
    if (!this.current || event.pointerId !== this.pointerId) return;
    if (this.canvas.hasPointerCapture(event.pointerId)) this.canvas.releasePointerCapture(event.pointerId);
    this.drawTail(this.current);
    this.current = null;
    this.pointerId = null;
  };

  function mid(a, b) { return { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2, w: (a.w + b.w) / 2 }; }

  SignaturePad.prototype.drawDot = function (p) {
    var context = this.context;
    context.fillStyle = INK;
    context.beginPath();
    context.arc(p.x, p.y, p.w / 2, 0, Math.PI * 2);
    context.fill();
  };

  // The piece of the stroke that point i adds: from the midpoint before point i-1 to the midpoint after
  // it, bending through point i-1; the last piece runs straight on to point i (the pen's position now).
  SignaturePad.prototype.drawSegment = function (stroke, i) {
    var context = this.context;
    context.strokeStyle = INK;
    context.lineCap = "round";
    context.lineJoin = "round";
    context.beginPath();
    if (i === 1) {
      context.lineWidth = (stroke[0].w + stroke[1].w) / 2;
      context.moveTo(stroke[0].x, stroke[0].y);
      context.lineTo(mid(stroke[0], stroke[1]).x, mid(stroke[0], stroke[1]).y);
    } else {
      var start = mid(stroke[i - 2], stroke[i - 1]);
      var end = mid(stroke[i - 1], stroke[i]);
      context.lineWidth = stroke[i - 1].w;
      context.moveTo(start.x, start.y);
      context.quadraticCurveTo(stroke[i - 1].x, stroke[i - 1].y, end.x, end.y);
    }
    context.stroke();
  };

  // The stroke's last half-piece, from the last midpoint to where the pen was lifted.
  SignaturePad.prototype.drawTail = function (stroke) {
    if (stroke.length < 2) return;
    var context = this.context;
    var last = stroke[stroke.length - 1];
    var start = mid(stroke[stroke.length - 2], last);
    context.strokeStyle = INK;
    context.lineWidth = last.w;
    context.beginPath();
    context.moveTo(start.x, start.y);
    context.lineTo(last.x, last.y);
    context.stroke();
  };

  SignaturePad.prototype.redraw = function () {
    this.context.clearRect(0, 0, this.canvas.width, this.canvas.height);
    for (var s = 0; s < this.strokes.length; s++) {
      var stroke = this.strokes[s];
      this.drawDot(stroke[0]);
      for (var i = 1; i < stroke.length; i++) this.drawSegment(stroke, i);
      if (stroke !== this.current) this.drawTail(stroke);
    }
  };

  SignaturePad.prototype.undo = function () {
    this.strokes.pop();
    this.current = null;
    this.redraw();
    this.changed();
  };

  SignaturePad.prototype.clear = function () {
    this.strokes = [];
    this.current = null;
    this.redraw();
    this.changed();
  };

  SignaturePad.prototype.isEmpty = function () { return this.strokes.length === 0; };

  SignaturePad.prototype.changed = function () {
    for (var i = 0; i < this.listeners.length; i++) this.listeners[i](this);
  };

  function setUpPad(form) {
    var canvas = form.querySelector("[data-signature-pad]");
    var output = form.querySelector("[data-signature-pad-output]");
    var undo = form.querySelector("[data-signature-pad-undo]");
    var clear = form.querySelector("[data-signature-pad-clear]");
    var empty = form.querySelector("#signature-pad-empty");
    if (!canvas || !output) return;
    var pad = new SignaturePad(canvas);
    form.signaturePad = pad; // for tests and other scripts of the page
    pad.listeners.push(function () {
      if (undo) undo.disabled = pad.isEmpty();
      if (clear) clear.disabled = pad.isEmpty();
      if (empty && !pad.isEmpty()) empty.hidden = true;
    });
    if (undo) undo.addEventListener("click", function () { pad.undo(); });
    if (clear) clear.addEventListener("click", function () { pad.clear(); });
    form.addEventListener("submit", function (event) {
      if (pad.isEmpty()) {
        event.preventDefault();
        if (empty) empty.hidden = false;
        return;
      }
      output.value = canvas.toDataURL("image/png");
    });
  }

  // The typed signature's preview: the server renders the text in the handwriting font.
  function setUpPreview(input) {
    var image = document.getElementById(input.dataset.signaturePreviewTarget);
    if (!image) return;
    var timer = null;
    function show() {
      var text = input.value.trim();
      if (!text) { image.hidden = true; return; }
      image.src = input.dataset.signaturePreviewUrl + "?text=" + encodeURIComponent(text);
    }
    image.addEventListener("load", function () { image.hidden = false; });
    image.addEventListener("error", function () { image.hidden = true; });
    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(show, 300);
    });
    show();
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("form[data-signature-pad-form]"), setUpPad);
    Array.prototype.forEach.call(document.querySelectorAll("[data-signature-preview-url]"), setUpPreview);
  });
})();
