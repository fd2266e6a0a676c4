// The document editor: django-prose-editor's Tiptap build (its wheel ships the built bundle; no Node
// here), the extensions our documents use, three of our own (page break, indentation, images from a
// file) and alignment written as classes, since documents.sanitizing keeps classes, not inline styles,
// and the strict Content-Security-Policy would not apply inline styles in the page anyway.
//
// Saving: every change is saved after a pause (autosave) or at once (button, Ctrl+S) through
// PUT /api/v1/documents/{id} with the version the editor started from. A 409 means someone saved since:
// nothing was stored, and the page shows both texts and lets the person choose; never a silent overwrite.
import {
  Blockquote,
  Bold,
  BulletList,
  Document,
  Dropcursor,
  Editor,
  Extension,
  Gapcursor,
  HardBreak,
  Heading,
  History,
  HorizontalRule,
  Image,
  Italic,
  Link,
  ListItem,
  Menu,
  Node,
  OrderedList,
  Paragraph,
  Strike,
  Table,
  TableCell,
  TableHeader,
  TableRow,
  Text,
  TextAlign,
  TrailingNode,
  Underline,
} from "../django_prose_editor/editor.js";

const gettext = window.gettext || ((text) => text);
const ALIGNMENTS = ["left", "center", "right", "justify"];
const BLOCKS = ["paragraph", "heading"];
const MAX_INDENT = 8;
const MAX_IMAGE_BYTES = 1024 * 1024;
const AUTOSAVE_DELAY_MS = 1500;

function classValue(element, prefix, allowed) {
  for (const name of element.classList) {
    if (name.startsWith(prefix) && allowed.includes(name.slice(prefix.length))) {
      return name.slice(prefix.length);
    }
  }
  return null;
}

// Alignment as text-align-<side> classes (read back from a class or an older inline style).
const ClassTextAlign = TextAlign.extend({
  addGlobalAttributes() {
    return [
      {
        types: this.options.types,
        attributes: {
          textAlign: {
            default: null,
            parseHTML: (element) => {
              const fromClass = classValue(element, "text-align-", ALIGNMENTS);
              if (fromClass) return fromClass;
              const match = /text-align:\s*(left|center|right|justify)/.exec(element.getAttribute("style") || "");
              return match ? match[1] : null;
            },
            renderHTML: (attributes) =>
              attributes.textAlign ? { class: `text-align-${attributes.textAlign}` } : {},
          },
        },
      },
    ];
  },
}).configure({ types: BLOCKS, alignments: ALIGNMENTS });

function changeIndent(delta) {
  return ({ tr, state, dispatch }) => {
    let changed = false;
    state.doc.nodesBetween(state.selection.from, state.selection.to, (node, position) => {
      if (!BLOCKS.includes(node.type.name)) return true;
      const next = Math.max(0, Math.min(MAX_INDENT, (node.attrs.indent || 0) + delta));
      if (next !== (node.attrs.indent || 0)) {
        if (dispatch) tr.setNodeMarkup(position, undefined, { ...node.attrs, indent: next });
        changed = true;
      }
      return false;
    });
    return changed;
  };
}

// Indentation in steps (indent-1 … indent-8 classes, 2 em each when rendered); Tab and Shift-Tab,
// which in a list move the item instead.
const Indent = Extension.create({
  name: "indent",
  addGlobalAttributes() {
    return [
      {
        types: BLOCKS,
        attributes: {
          indent: {
            default: 0,
            parseHTML: (element) => {
              const level = classValue(element, "indent-", ["1", "2", "3", "4", "5", "6", "7", "8"]);
              return level ? Number(level) : 0;
            },
            renderHTML: (attributes) => (attributes.indent ? { class: `indent-${attributes.indent}` } : {}),
          },
        },
      },
    ];
  },
  addCommands() {
    return { indent: () => changeIndent(1), outdent: () => changeIndent(-1) };
  },
  addKeyboardShortcuts() {
    return {
      Tab: () =>
        this.editor.isActive("listItem")
          ? this.editor.commands.sinkListItem("listItem")
          : this.editor.commands.indent(),
      "Shift-Tab": () =>
        this.editor.isActive("listItem")
          ? this.editor.commands.liftListItem("listItem")
          : this.editor.commands.outdent(),
    };
  },
  addMenuItems({ buttons, menu }) {
    menu.defineItem({
      name: "indent:more",
      groups: "indent",
      command: (editor) => editor.chain().focus().indent().run(),
      enabled: (editor) => editor.can().indent(),
      button: buttons.material("format_indent_increase", gettext("Indent")),
    });
    menu.defineItem({
      name: "indent:less",
      groups: "indent",
      command: (editor) => editor.chain().focus().outdent().run(),
      enabled: (editor) => editor.can().outdent(),
      button: buttons.material("format_indent_decrease", gettext("Outdent")),
    });
  },
});

// A page break: <div class="page-break"></div>, which the renderer turns into a new page.
const PageBreak = Node.create({
  name: "pageBreak",
  group: "block",
  atom: true,
  selectable: true,
  parseHTML() {
    return [{ tag: "div.page-break" }];
  },
  renderHTML() {
    return ["div", { class: "page-break" }];
  },
  addNodeView() {
    return () => {
      const dom = document.createElement("div");
      dom.className = "page-break";
      dom.contentEditable = "false";
      const label = document.createElement("span");
      label.textContent = gettext("Page break");
      dom.append(label);
      return { dom };
    };
  },
  addCommands() {
    return {
      setPageBreak:
        () =>
        ({ commands }) =>
          commands.insertContent([{ type: this.name }, { type: "paragraph" }]),
    };
  },
  addKeyboardShortcuts() {
    return { "Mod-Enter": () => this.editor.commands.setPageBreak() };
  },
  addMenuItems({ buttons, menu }) {
    menu.defineItem({
      name: "pageBreak",
      groups: "nodes",
      command: (editor) => editor.chain().focus().setPageBreak().run(),
      button: buttons.material("insert_page_break", gettext("Page break")),
    });
  },
});

// Images come from the person's own files as PNG or JPEG data: URLs (the sanitizer admits nothing
// else: a remote image would tell a third party who reads the contract, and when).
const FileImage = Image.extend({
  addMenuItems({ buttons, menu }) {
    menu.defineItem({
      name: "image",
      groups: "nodes",
      command: (editor) => pickImage(editor),
      button: buttons.material("image", gettext("Insert an image")),
    });
  },
}).configure({ allowBase64: true, inline: false });

function pickImage(editor) {
  const input = document.createElement("input");
  input.type = "file";
  input.accept = "image/png,image/jpeg";
  input.addEventListener("change", () => {
    const file = input.files && input.files[0];
    if (!file) return;
    if (!["image/png", "image/jpeg"].includes(file.type)) {
      window.alert(gettext("Only PNG and JPEG images can be inserted."));
      return;
    }
    if (file.size > MAX_IMAGE_BYTES) {
      window.alert(gettext("An image may be at most 1 MB."));
      return;
    }
    const reader = new FileReader();
    reader.addEventListener("load", () => {
      editor.chain().focus().setImage({ src: String(reader.result), alt: file.name }).run();
    });
    reader.readAsDataURL(file);
  });
  input.click();
}

const EXTENSIONS = [
  Document,
  Dropcursor,
  Gapcursor,
  Paragraph,
  Text,
  HardBreak,
  History,
  Heading.configure({ levels: [1, 2, 3, 4] }),
  Bold,
  Italic,
  Underline,
  Strike,
  Blockquote,
  HorizontalRule,
  BulletList,
  OrderedList.configure({ enableListAttributes: false }),
  ListItem,
  Table.configure({ resizable: false }),
  TableRow,
  TableHeader,
  TableCell,
  Link.configure({ enableTarget: false, protocols: ["mailto"] }),
  ClassTextAlign,
  Indent,
  PageBreak,
  FileImage,
  TrailingNode,
  Menu.configure({
    groups: [
      { group: "blockType -lists", type: "dropdown", minItems: 2 },
      { group: "lists" },
      { group: "indent" },
      { group: "nodes -blockType -lists" },
      { group: "marks" },
      { group: "link" },
      { group: "textAlign" },
      { group: "table" },
      { group: "history" },
    ],
  }),
];

// django-prose-editor's createTextareaEditor, but without Tiptap's injected <style> element, which
// the CSP refuses; web/tiptap-core.css serves the same rules.
function editorOnTextarea(textarea, extensions) {
  const element = document.createElement("div");
  element.className = "prose-editor";
  textarea.before(element);
  element.append(textarea);
  return new Editor({
    element,
    extensions,
    content: textarea.value,
    injectCSS: false,
    onUpdate({ editor }) {
      textarea.value = editor.getHTML();
    },
  });
}

// --- the page ------------------------------------------------------------------------------------

function start(root) {
  const textarea = root.querySelector("textarea");
  const status = document.getElementById("save-status");
  const versionLabel = document.getElementById("document-version");
  const saveButton = document.getElementById("save-now");
  const conflict = document.getElementById("conflict");
  const csrf = root.querySelector("input[name=csrfmiddlewaretoken]").value;
  const saveUrl = root.dataset.saveUrl;
  let baseVersion = Number(root.dataset.version);
  let dirty = false;
  let saving = null; // the promise of the save under way
  let timer = null;
  let inConflict = false;
  let theirs = null;

  const editor = editorOnTextarea(textarea, EXTENSIONS);
  root.editor = editor;

  function say(key, values = {}) {
    let text = root.dataset[key] || key;
    for (const [name, value] of Object.entries(values)) text = text.replace(`{${name}}`, String(value));
    status.textContent = text;
    status.dataset.state = key;
  }

  function showVersion(number) {
    baseVersion = number;
    root.dataset.version = String(number);
    if (versionLabel) versionLabel.textContent = String(number);
    for (const link of document.querySelectorAll("[data-needs-version]")) link.hidden = false;
  }

  async function save() {
    window.clearTimeout(timer);
    if (saving) {
      await saving;
      if (!dirty) return;
    }
    if (!dirty || inConflict) return;
    const html = editor.getHTML();
    dirty = false;
    say("saving");
    saving = (async () => {
      // true when stored: only then does a change typed meanwhile get its own autosave
      let response;
      try {
        response = await fetch(saveUrl, {
          method: "PUT",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, Accept: "application/json" },
          body: JSON.stringify({ html, base_version: baseVersion }),
        });
      } catch (error) {
        dirty = true;
        say("offline");
        return false;
      }
      const answer = await response.json().catch(() => ({}));
      if (response.ok) {
        showVersion(answer.version);
        say(dirty ? "unsaved" : "saved", { version: answer.version });
        return true;
      }
      dirty = true; // nothing was stored
      if (response.status === 409 && answer.error === "version_conflict") {
        showConflict(html, answer.current_version, answer.current_html);
      } else {
        say("failed", { detail: answer.detail || response.status });
      }
      return false;
    })();
    let stored = false;
    try {
      stored = await saving;
    } finally {
      saving = null;
    }
    if (stored && dirty) schedule();
  }

  function schedule() {
    window.clearTimeout(timer);
    timer = window.setTimeout(save, AUTOSAVE_DELAY_MS);
  }

  function showConflict(mine, version, html) {
    inConflict = true;
    theirs = { version, html };
    say("conflict", { version });
    document.getElementById("conflict-version").textContent = String(version);
    // the editor's own serialisation, and the server's sanitised HTML (documents.sanitizing)
    document.getElementById("conflict-mine").innerHTML = mine;
    document.getElementById("conflict-theirs").innerHTML = html;
    conflict.hidden = false;
    conflict.scrollIntoView({ block: "start" });
  }

  function endConflict() {
    inConflict = false;
    conflict.hidden = true;
  }

  document.getElementById("conflict-keep-mine").addEventListener("click", () => {
    // her text saved on top of the latest version: the other save stays in the history, visible in the diff
    baseVersion = theirs.version;
    endConflict();
    dirty = true;
    save();
  });
  document.getElementById("conflict-take-theirs").addEventListener("click", () => {
    editor.commands.setContent(theirs.html, { emitUpdate: false });
    showVersion(theirs.version);
    endConflict();
    dirty = false;
    say("saved", { version: theirs.version });
  });

  editor.on("update", () => {
    dirty = true;
    if (!inConflict) {
      say("unsaved");
      schedule();
    }
  });
  saveButton.addEventListener("click", (event) => {
    event.preventDefault();
    save();
  });
  document.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key === "s") {
      event.preventDefault();
      save();
    }
  });
  window.addEventListener("beforeunload", (event) => {
    if (dirty || saving) event.preventDefault();
  });

  // Signer fields: the placeholder text the template grammar reads ({{ text: buyer_address }}).
  const fieldForm = document.getElementById("insert-field");
  if (fieldForm) {
    fieldForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const kind = fieldForm.elements.kind.value;
      const name = fieldForm.elements.name.value.trim();
      if (!/^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(name)) {
        fieldForm.elements.name.setCustomValidity(fieldForm.dataset.badName);
        fieldForm.elements.name.reportValidity();
        return;
      }
      fieldForm.elements.name.setCustomValidity("");
      editor.chain().focus().insertContent(`{{ ${kind}: ${name} }}`).run();
    });
    fieldForm.elements.name.addEventListener("input", () => fieldForm.elements.name.setCustomValidity(""));
  }

  // A comment quotes the selected passage of the saved text: the page saves first, then posts.
  const commentForm = document.getElementById("comment-form");
  if (commentForm) {
    const quote = commentForm.elements.quote;
    const quoted = document.getElementById("comment-quote");
    editor.on("selectionUpdate", () => {
      const { from, to } = editor.state.selection;
      quote.value = editor.state.doc.textBetween(from, to, "", "").slice(0, 500);
      quoted.textContent = quote.value;
      quoted.hidden = !quote.value;
    });
    commentForm.addEventListener("submit", async (event) => {
      if (!dirty && !saving) return;
      event.preventDefault();
      await save();
      if (!dirty) commentForm.submit();
    });
  }
  say("saved", { version: baseVersion });
}

const root = document.getElementById("document-editor");
if (root) start(root);
