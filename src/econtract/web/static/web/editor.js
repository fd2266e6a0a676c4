/* The field editor: parties as rows, boxes drawn on page images.
 *
 * A box is its party's mark (a signature, a seal) or a field she fills when she signs (date
 * signed, text, number, checkbox); which kinds a party may have comes from the server
 * (state.kinds, asked of signing.services), so the rules live in one place.
 *
 * Boxes live in fractions of their page (origin top-left) while editing, so they follow the
 * image at any screen width. On save they become PDF points, origin at the page box's lower-left
 * with y pointing up, which is what the server stores.
 */
(function () {
  "use strict";

  var form = document.getElementById("editor-form");
  if (!form) return;

  var state = JSON.parse(document.getElementById("editor-state").textContent);
  var rowsEl = document.getElementById("party-rows");
  var rowTemplate = document.getElementById("party-row-template");
  var notice = document.getElementById("editor-notice");
  var payload = document.getElementById("editor-payload");
  var sendForm = document.getElementById("send-form");
  var panel = document.getElementById("box-panel");
  var panelKind = panel.querySelector(".field-kind");
  var panelName = panel.querySelector(".field-name");
  var panelLabel = panel.querySelector(".field-label");
  var panelRequired = panel.querySelector(".field-required");
  var KINDS = state.kinds || { person: ["signature"], organization: ["seal"], automatic: ["seal"], filled: [] };
  var kindNames = {};
  Array.prototype.forEach.call(panelKind.options, function (option) { kindNames[option.value] = option.textContent; });
  panelName.pattern = KINDS.name_pattern || "";

  var COLORS = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#db2777", "#0891b2", "#65a30d"];
  var MIN_W = 20, MIN_H = 10; // points: the smallest box the server accepts
  var DEFAULT_W = 160, DEFAULT_H = 50; // points: what a plain click places
  var CROSS_PAGE_H = 120; // points: a cross-page seal's default height (a 42 mm round seal is 119 pt)
  // points: signing.services wants a checkbox 8 to 40 points wide and high
  var CHECKBOX_MIN = 8, CHECKBOX_SIZE = 16;

  var parties = []; // {key, row}
  var boxes = []; // {partyKey, page, el, fx, fy, fw, fh, kind, name, label, required}
  var selected = null; // the box the panel edits
  var activeKey = null;
  var nextKey = 1;
  var dirty = false;
  var gesture = null;

  var pages = {};
  Array.prototype.forEach.call(document.querySelectorAll(".editor-pages .page"), function (el) {
    pages[el.dataset.page] = {
      el: el,
      canvas: el.querySelector(".page-canvas"),
      w: parseFloat(el.dataset.width),
      h: parseFloat(el.dataset.height),
    };
  });

  function clamp(value, low, high) { return Math.min(Math.max(value, low), high); }
  function round2(value) { return Math.round(value * 100) / 100; }
  function markDirty() { dirty = true; }
  function partyIndex(key) {
    for (var i = 0; i < parties.length; i++) if (parties[i].key === key) return i;
    return -1;
  }
  function colorOf(key) { return COLORS[Math.max(partyIndex(key), 0) % COLORS.length]; }
  function nameOf(key) {
    var party = parties[partyIndex(key)];
    var name = party ? party.row.querySelector(".party-name").value.trim() : "";
    return name || "#" + (partyIndex(key) + 1);
  }
  function isOrganization(key) {
    var party = parties[partyIndex(key)];
    return !!party && party.row.querySelector(".party-kind").value === "organization";
  }
  function kindsOf(key) {
    var party = parties[partyIndex(key)];
    if (!isOrganization(key)) return KINDS.person;
    return party && party.row.dataset.automaticSeal ? KINDS.automatic : KINDS.organization;
  }
  function markOf(key) { return kindsOf(key)[0]; } // the server lists the party's mark first
  function isFilled(kind) { return KINDS.filled.indexOf(kind) >= 0; }
  function firstPage() { return pages["1"] || pages[Object.keys(pages)[0]]; }
  function showNotice(text) {
    notice.textContent = text;
    notice.hidden = !text;
  }

  /* --- parties ------------------------------------------------------------------------------ */

  function setActive(key) {
    activeKey = key;
    parties.forEach(function (party) {
      party.row.querySelector(".party-active").checked = party.key === key;
      party.row.classList.toggle("active", party.key === key);
    });
    if (key !== null) showNotice("");
  }

  // Methods the editor does not show (totp, webauthn set through the API) are kept as they were.
  function willingnessOf(row) {
    var kept = JSON.parse(row.dataset.willingness || "[]").filter(function (m) { return m !== "sms_otp"; });
    if (row.querySelector(".party-sms").checked) kept.push("sms_otp");
    if (kept.length === 0) kept.push("email_otp");
    return kept;
  }

  function addParty(data) {
    var key = nextKey++;
    var row = rowTemplate.content.firstElementChild.cloneNode(true);
    row.dataset.key = String(key);
    row.querySelector(".party-name").value = data.name || "";
    row.querySelector(".party-email").value = data.email || "";
    row.querySelector(".party-order").value = String(data.order || parties.length + 1);
    row.querySelector(".party-level").value = data.min_assurance || "";
    row.querySelector(".party-phone").value = data.phone || "";
    row.querySelector(".party-kind").value = data.kind === "organization" ? "organization" : "person";
    row.querySelector(".party-uscc").value = data.organization_uscc || "";
    row.dataset.automaticSeal = data.automatic_seal_id || ""; // set through the API: kept as it was
    // the platform signs an automatic party; its email, if any, only receives the result
    if (data.automatic_seal_id) row.querySelector(".party-email").required = false;
    var cross = data.cross_page_seal;
    var first = firstPage();
    row.querySelector(".party-cross").checked = !!cross;
    // Default: a seal of the usual size, centred on the page's height.
    row.querySelector(".party-cross-height").value = String(cross ? cross.height : CROSS_PAGE_H);
    row.querySelector(".party-cross-y").value = String(
      cross ? cross.y : Math.max(Math.round((first ? first.h : 842) / 2 - CROSS_PAGE_H / 2), 0)
    );
    ["change", "input"].forEach(function (type) {
      row.querySelector(".party-kind").addEventListener(type, function () { showKind(row); refresh(); markDirty(); });
      row.querySelector(".party-cross").addEventListener(type, function () { showKind(row); refresh(); markDirty(); });
      row.querySelector(".party-cross-y").addEventListener(type, function () { refresh(); markDirty(); });
      row.querySelector(".party-cross-height").addEventListener(type, function () { refresh(); markDirty(); });
    });
    row.querySelector(".party-uscc").addEventListener("input", markDirty);
    // its own line under the row (app.css has no rule for it yet)
    var org = row.querySelector(".party-org");
    org.style.gridColumn = "1 / -1";
    org.style.display = "flex";
    org.style.flexWrap = "wrap";
    org.style.alignItems = "center";
    org.style.gap = "0.4rem 1rem";
    var values = row.querySelector(".party-cross-values");
    values.style.display = "flex";
    values.style.gap = "0.4rem 1rem";
    Array.prototype.forEach.call(values.querySelectorAll("input"), function (input) { input.style.width = "7rem"; });
    showKind(row);
    var methods = data.willingness || [];
    row.querySelector(".party-sms").checked = methods.indexOf("sms_otp") >= 0;
    row.dataset.willingness = JSON.stringify(methods);
    row.querySelector(".party-level").addEventListener("change", markDirty);
    row.querySelector(".party-phone").addEventListener("input", markDirty);
    row.querySelector(".party-sms").addEventListener("change", markDirty);
    var radio = row.querySelector(".party-active");
    radio.value = String(key);
    radio.addEventListener("change", function () { setActive(key); });
    row.querySelector(".party-name").addEventListener("input", function () { refresh(); markDirty(); });
    row.querySelector(".party-email").addEventListener("input", markDirty);
    row.querySelector(".party-order").addEventListener("input", markDirty);
    row.querySelector(".party-remove").addEventListener("click", function () { removeParty(key); });
    rowsEl.appendChild(row);
    parties.push({ key: key, row: row });
    return key;
  }

  // An organisation row asks for its USCC and offers the cross-page seal; its name and email mean
  // the organisation's name and the member who applies the seal.
  function showKind(row) {
    var organization = row.querySelector(".party-kind").value === "organization";
    row.querySelector(".party-org").hidden = !organization;
    row.querySelector(".party-cross-values").hidden = !(organization && row.querySelector(".party-cross").checked);
    row.querySelector(".party-name").placeholder = organization ? row.dataset.orgName : row.dataset.personName;
    row.querySelector(".party-email").placeholder = organization ? row.dataset.orgEmail : row.dataset.personEmail;
  }

  function crossPageOf(row) {
    if (row.querySelector(".party-kind").value !== "organization" || !row.querySelector(".party-cross").checked) {
      return null;
    }
    return {
      y: parseFloat(row.querySelector(".party-cross-y").value),
      height: parseFloat(row.querySelector(".party-cross-height").value),
    };
  }

  // Where each cross-page seal will be: a strip at every page's right edge (signing derives the
  // exact width from the seal; a round seal's strip is height / pages wide). The strips are updated
  // in place: replacing them on each change moves the scroll position under the sender's pointer.
  function stripsOf(party) {
    if (!party.strips) {
      party.strips = Object.keys(pages).map(function (number) {
        var strip = document.createElement("div");
        strip.className = "overlay pending cross-strip";
        strip.hidden = true;
        pages[number].canvas.appendChild(strip);
        return { page: pages[number], el: strip };
      });
    }
    return party.strips;
  }

  function paintStrips() {
    var count = Object.keys(pages).length;
    parties.forEach(function (party) {
      var cross = crossPageOf(party.row);
      var shown = !!cross && isFinite(cross.y) && isFinite(cross.height) && cross.height > 0;
      if (!shown && !party.strips) return;
      stripsOf(party).forEach(function (strip) {
        strip.el.hidden = !shown;
        if (!shown) return;
        var page = strip.page;
        var fw = Math.min(cross.height / count / page.w, 1);
        strip.el.title = nameOf(party.key) + " · " + form.dataset.crossPageLabel;
        strip.el.style.left = (1 - fw) * 100 + "%";
        strip.el.style.width = fw * 100 + "%";
        strip.el.style.top = clamp(1 - (cross.y + cross.height) / page.h, 0, 1) * 100 + "%";
        strip.el.style.height = Math.min(cross.height / page.h, 1) * 100 + "%";
        strip.el.style.borderColor = colorOf(party.key);
      });
    });
  }

  function removeParty(key) {
    boxes.filter(function (box) { return box.partyKey === key; }).forEach(removeBox);
    var index = partyIndex(key);
    if (index < 0) return;
    parties[index].row.remove();
    (parties[index].strips || []).forEach(function (strip) { strip.el.remove(); });
    parties.splice(index, 1);
    if (activeKey === key) setActive(parties.length ? parties[0].key : null);
    refresh();
    markDirty();
  }

  /* --- boxes -------------------------------------------------------------------------------- */

  function place(box) {
    box.el.style.left = box.fx * 100 + "%";
    box.el.style.top = box.fy * 100 + "%";
    box.el.style.width = box.fw * 100 + "%";
    box.el.style.height = box.fh * 100 + "%";
  }

  // A kind the party cannot have (its row switched between person and organisation) becomes its mark.
  function fitKind(box) {
    if (kindsOf(box.partyKey).indexOf(box.kind) < 0) setKind(box, markOf(box.partyKey));
  }

  function paint(box) {
    fitKind(box);
    var color = colorOf(box.partyKey);
    box.el.style.borderColor = color;
    box.el.style.color = color;
    var sealed = box.kind === "seal";
    box.el.style.borderStyle = sealed ? "dashed" : isFilled(box.kind) ? "dotted" : "solid";
    box.el.classList.toggle("seal", sealed);
    box.el.dataset.kind = box.kind;
    var parts = [nameOf(box.partyKey), kindNames[box.kind] || box.kind];
    if (isFilled(box.kind) && box.name) parts.push(box.name);
    box.el.querySelector(".box-label").textContent = parts.join(" · ");
    box.el.title = parts.join(" · ") + (isFilled(box.kind) && box.label ? " — " + box.label : "");
  }

  // A checkbox is small and square; a box leaving the checkbox kind gets back a usual size.
  function setKind(box, kind) {
    var page = pages[box.page];
    var wasCheckbox = box.kind === "checkbox";
    box.kind = kind;
    if (kind === "checkbox" && !wasCheckbox) {
      box.fw = Math.min(CHECKBOX_SIZE / page.w, 1);
      box.fh = Math.min(CHECKBOX_SIZE / page.h, 1);
    } else if (wasCheckbox && kind !== "checkbox" && (box.fw * page.w < MIN_W || box.fh * page.h < MIN_H)) {
      box.fw = Math.min(DEFAULT_W / page.w, 1 - box.fx);
      box.fh = Math.min(DEFAULT_H / page.h, 1 - box.fy);
    }
    place(box);
  }

  /* --- the selected box's panel: its kind, and a filled field's name, label and required --------- */

  function select(box) {
    if (selected && selected !== box) selected.el.classList.remove("selected");
    selected = box;
    if (box) box.el.classList.add("selected");
    showPanel();
  }

  function showPanel() {
    var box = selected;
    // Shown and hidden parts keep their room (app.css): the pages below must not move under a
    // pointer that has just pressed on a box.
    panel.classList.toggle("empty", !box);
    // a hidden, disabled input is neither sent nor checked by the browser when the form is saved
    [panelKind, panelName, panelLabel, panelRequired].forEach(function (input) { input.disabled = !box; });
    if (!box) {
      panelName.value = "";
      return;
    }
    var allowed = kindsOf(box.partyKey);
    Array.prototype.forEach.call(panelKind.options, function (option) {
      option.hidden = option.disabled = allowed.indexOf(option.value) < 0;
    });
    panelKind.value = box.kind;
    var filled = isFilled(box.kind);
    panel.querySelector(".field-party").textContent = nameOf(box.partyKey);
    panel.querySelector(".field-filled").classList.toggle("off", !filled);
    panelName.disabled = panelLabel.disabled = !filled;
    panelName.value = box.name;
    panelLabel.value = box.label;
    // the date is filled in for her: nothing to require
    var requirable = filled && box.kind !== "date_signed";
    panel.querySelector(".field-required-row").classList.toggle("off", !requirable);
    panelRequired.disabled = !requirable;
    panelRequired.checked = box.required;
  }

  panelKind.addEventListener("change", function () {
    if (!selected) return;
    setKind(selected, panelKind.value);
    refresh();
    showPanel();
    markDirty();
  });
  panelName.addEventListener("input", function () {
    if (!selected) return;
    selected.name = panelName.value.trim();
    paint(selected);
    markDirty();
  });
  panelLabel.addEventListener("input", function () {
    if (!selected) return;
    selected.label = panelLabel.value.trim();
    paint(selected);
    markDirty();
  });
  panelRequired.addEventListener("change", function () {
    if (!selected) return;
    selected.required = panelRequired.checked;
    markDirty();
  });

  function addBox(partyKey, pageNumber, fx, fy, fw, fh, field) {
    var page = pages[pageNumber];
    var el = document.createElement("div");
    el.className = "box";
    el.tabIndex = 0;
    el.innerHTML = '<span class="box-label"></span><button type="button" class="box-delete" aria-label="delete">×</button><span class="box-handle"></span>';
    field = field || {};
    var box = {
      partyKey: partyKey, page: String(pageNumber), el: el, fx: fx, fy: fy, fw: fw, fh: fh,
      kind: field.kind || markOf(partyKey), // a new box is its party's mark
      name: field.name || "",
      label: field.label || "",
      required: field.required !== false,
    };
    el.querySelector(".box-delete").addEventListener("click", function (event) {
      event.stopPropagation();
      removeBox(box);
      refresh();
      markDirty();
    });
    el.addEventListener("keydown", function (event) {
      if (event.key === "Delete" || event.key === "Backspace") {
        event.preventDefault();
        removeBox(box);
        refresh();
        markDirty();
      }
    });
    page.canvas.appendChild(el);
    boxes.push(box);
    place(box);
    paint(box);
    return box;
  }

  function removeBox(box) {
    var index = boxes.indexOf(box);
    if (index >= 0) boxes.splice(index, 1);
    box.el.remove();
    if (selected === box) select(null);
  }

  function refresh() {
    parties.forEach(function (party) {
      party.row.querySelector(".swatch").style.background = colorOf(party.key);
      var count = boxes.filter(function (box) { return box.partyKey === party.key; }).length;
      party.row.querySelector(".party-count").textContent = count ? "▭ " + count : "";
    });
    boxes.forEach(paint);
    paintStrips();
    if (selected) showPanel();
  }

  /* --- pointer gestures: draw, move, resize --------------------------------------------------- */

  function fraction(page, event) {
    var rect = page.canvas.getBoundingClientRect();
    return {
      x: clamp((event.clientX - rect.left) / rect.width, 0, 1),
      y: clamp((event.clientY - rect.top) / rect.height, 0, 1),
    };
  }

  function boxOf(element) {
    for (var i = 0; i < boxes.length; i++) if (boxes[i].el === element) return boxes[i];
    return null;
  }

  function onDown(event) {
    if (event.button !== 0 || event.target.closest(".box-delete")) return;
    var page = pages[event.currentTarget.dataset.page];
    var point = fraction(page, event);
    var boxEl = event.target.closest(".box");
    if (boxEl) {
      var box = boxOf(boxEl);
      var kind = event.target.closest(".box-handle") ? "resize" : "move";
      gesture = { kind: kind, page: page, box: box, origin: point, start: { fx: box.fx, fy: box.fy, fw: box.fw, fh: box.fh } };
      boxEl.focus();
      select(box);
    } else {
      if (activeKey === null) {
        showNotice(notice.dataset.noParty);
        return;
      }
      var drawn = addBox(activeKey, event.currentTarget.dataset.page, point.x, point.y, 0, 0);
      gesture = { kind: "draw", page: page, box: drawn, origin: point };
      select(drawn);
    }
    page.canvas.setPointerCapture(event.pointerId);
    event.preventDefault();
  }

  function onMove(event) {
    if (!gesture) return;
    var point = fraction(gesture.page, event);
    var box = gesture.box, start = gesture.start, origin = gesture.origin;
    var checkbox = box.kind === "checkbox";
    var minW = (checkbox ? CHECKBOX_MIN : MIN_W) / gesture.page.w, minH = (checkbox ? CHECKBOX_MIN : MIN_H) / gesture.page.h;
    if (gesture.kind === "draw") {
      box.fx = Math.min(origin.x, point.x);
      box.fy = Math.min(origin.y, point.y);
      box.fw = Math.abs(point.x - origin.x);
      box.fh = Math.abs(point.y - origin.y);
    } else if (gesture.kind === "move") {
      box.fx = clamp(start.fx + point.x - origin.x, 0, 1 - box.fw);
      box.fy = clamp(start.fy + point.y - origin.y, 0, 1 - box.fh);
    } else {
      box.fw = clamp(start.fw + point.x - origin.x, minW, 1 - box.fx);
      box.fh = clamp(start.fh + point.y - origin.y, minH, 1 - box.fy);
    }
    place(box);
  }

  function onUp() {
    if (!gesture) return;
    var box = gesture.box, page = gesture.page;
    if (gesture.kind === "draw") {
      if (box.fw * page.w < MIN_W || box.fh * page.h < MIN_H) {
        // A click (or a sliver) places a box of the usual size at that spot.
        box.fw = Math.min(DEFAULT_W / page.w, 1);
        box.fh = Math.min(DEFAULT_H / page.h, 1);
        box.fx = clamp(gesture.origin.x, 0, 1 - box.fw);
        box.fy = clamp(gesture.origin.y, 0, 1 - box.fh);
      }
      place(box);
    }
    gesture = null;
    refresh();
    markDirty();
  }

  Object.keys(pages).forEach(function (number) {
    var el = pages[number].canvas;
    el.dataset.page = number;
    el.addEventListener("pointerdown", onDown);
    el.addEventListener("pointermove", onMove);
    el.addEventListener("pointerup", onUp);
    el.addEventListener("pointercancel", onUp);
  });

  /* --- start and save ----------------------------------------------------------------------- */

  var keys = (state.parties || []).map(addParty);
  if (!keys.length) keys.push(addParty({}));
  (state.fields || []).forEach(function (field) {
    var page = pages[String(field.page)];
    var key = keys[field.party];
    if (!page || key === undefined) return;
    addBox(key, field.page, field.x / page.w, 1 - (field.y + field.height) / page.h, field.width / page.w, field.height / page.h, field);
  });
  select(null);
  setActive(keys[0]);
  refresh();

  document.getElementById("add-party").addEventListener("click", function () {
    var key = addParty({});
    setActive(key);
    refresh();
    markDirty();
    parties[partyIndex(key)].row.querySelector(".party-name").focus();
  });

  form.addEventListener("submit", function () {
    var index = {};
    var partyList = parties.map(function (party, position) {
      index[party.key] = position;
      return {
        name: party.row.querySelector(".party-name").value.trim(),
        email: party.row.querySelector(".party-email").value.trim(),
        order: parseInt(party.row.querySelector(".party-order").value, 10) || 1,
        min_assurance: party.row.querySelector(".party-level").value,
        phone: party.row.querySelector(".party-phone").value.trim(),
        willingness: willingnessOf(party.row),
        kind: party.row.querySelector(".party-kind").value,
        organization_uscc: party.row.querySelector(".party-uscc").value.trim(),
        cross_page_seal: crossPageOf(party.row),
        automatic_seal_id: party.row.dataset.automaticSeal || null,
      };
    });
    var fieldList = boxes.map(function (box) {
      var page = pages[box.page];
      return {
        party: index[box.partyKey],
        page: parseInt(box.page, 10),
        x: round2(Math.max(box.fx * page.w, 0)),
        y: round2(Math.max((1 - box.fy - box.fh) * page.h, 0)),
        width: round2(box.fw * page.w),
        height: round2(box.fh * page.h),
        kind: box.kind,
        name: isFilled(box.kind) ? box.name : "",
        label: isFilled(box.kind) ? box.label : "",
        required: box.required,
      };
    });
    payload.value = JSON.stringify({ parties: partyList, fields: fieldList });
    dirty = false;
  });

  window.addEventListener("beforeunload", function (event) {
    if (dirty) {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  if (sendForm) {
    // Send leads to the confirmation page: unsaved boxes would not be in what is confirmed.
    sendForm.addEventListener("click", function (event) {
      if (dirty && event.target.closest("a#send-button")) {
        event.preventDefault();
        showNotice(form.dataset.unsaved);
        notice.scrollIntoView({ block: "center" });
      }
    });
  }
})();
