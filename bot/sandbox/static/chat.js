// Sandbox chat page: plays a Telegram client against the loopback Bot API emulator.
// Bot text is rendered from plain text + Telegram entities with DOM nodes (never innerHTML),
// so nothing the bot sends can become markup or script.
"use strict";

(function () {
  const UI_TEXT = {
    en: {
      sandbox: "sandbox · not real Telegram",
      settings: "Name and language",
      setup_title: "Play the applicant",
      setup_hint: "Chat with the real bot through the sandbox. Nothing here reaches Telegram.",
      name: "Display name",
      language: "Language",
      phone: "Phone number (shared by the contact button)",
      start_chat: "Start chatting",
      start: "START",
      typing: "typing…",
      send_file: "Send a file",
      send_photo: "Send a photo",
      message: "Message",
      send: "Send",
      edited: "edited",
      photo: "Photo",
      sticker: "Sticker",
      voice: "Voice message",
      location: "Location",
      contact: "Contact",
      offline: "connection lost, retrying…",
      stale: "That button is no longer available.",
    },
    "zh-hans": {
      sandbox: "沙盒 · 非真实 Telegram",
      settings: "名字和语言",
      setup_title: "扮演申请人",
      setup_hint: "通过沙盒与真实的机器人对话，这里的内容不会发送到 Telegram。",
      name: "显示名称",
      language: "语言",
      phone: "手机号码（联系人按钮会分享它）",
      start_chat: "开始聊天",
      start: "开始",
      typing: "正在输入…",
      send_file: "发送文件",
      send_photo: "发送图片",
      message: "消息",
      send: "发送",
      edited: "已编辑",
      photo: "图片",
      sticker: "贴纸",
      voice: "语音消息",
      location: "位置",
      contact: "联系人",
      offline: "连接中断，正在重试…",
      stale: "这个按钮已失效。",
    },
  };
  const STORAGE_KEY = "sandbox.session";
  const ENTITY_TAGS = {
    bold: "strong",
    italic: "em",
    underline: "u",
    strikethrough: "s",
    code: "code",
    pre: "pre",
    blockquote: "blockquote",
    expandable_blockquote: "blockquote",
    spoiler: "span",
    text_link: "a",
    url: "a",
  };

  const state = { session: null, cursor: 0, generation: 0, typingTimer: null, toastTimer: null };
  const $ = (id) => document.getElementById(id);

  function t(key) {
    const language = state.session && state.session.language_code === "zh-hans" ? "zh-hans" : "en";
    return UI_TEXT[language][key] || UI_TEXT.en[key] || key;
  }

  function applyLanguage() {
    const zh = state.session && state.session.language_code === "zh-hans";
    document.documentElement.lang = zh ? "zh-Hans" : "en";
    for (const node of document.querySelectorAll("[data-i18n]")) {
      node.textContent = t(node.dataset.i18n);
    }
    for (const node of document.querySelectorAll("[data-i18n-title]")) {
      node.title = t(node.dataset.i18nTitle);
    }
    for (const node of document.querySelectorAll("[data-i18n-placeholder]")) {
      node.placeholder = t(node.dataset.i18nPlaceholder);
    }
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function safeUrl(url) {
    return /^(https?:|tg:)/i.test(url || "") ? url : null;
  }

  // --- talking to the emulator --------------------------------------------------------------

  async function postJson(path, body) {
    const response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const answer = await response.json();
    if (!response.ok) throw Object.assign(new Error(answer.error || "request failed"), { status: response.status });
    return answer;
  }

  async function startSession(details) {
    const session = await postJson("/sandbox/api/session", details);
    const changedUser = !state.session || state.session.user_id !== session.user_id;
    state.session = session;
    localStorage.setItem(STORAGE_KEY, JSON.stringify(session));
    $("bot-name").textContent = session.bot.first_name;
    applyLanguage();
    $("setup").hidden = true;
    $("chat").hidden = false;
    $("settings-button").hidden = false;
    if (changedUser) {
      $("messages").replaceChildren();
      state.cursor = 0;
      state.generation += 1;
      poll(state.generation);
    }
    updateStartButton();
  }

  async function poll(generation) {
    while (generation === state.generation) {
      try {
        const query = new URLSearchParams({
          user_id: String(state.session.user_id),
          after: String(state.cursor),
          wait: "20",
        });
        const response = await fetch("/sandbox/api/events?" + query.toString());
        if (response.status === 404) {
          showSetup();
          return;
        }
        const answer = await response.json();
        if (generation !== state.generation) return;
        $("bot-status").textContent = t("sandbox");
        for (const event of answer.events) handleEvent(event);
        state.cursor = answer.cursor;
        renderReplyKeyboard(answer.reply_keyboard);
        updateStartButton();
      } catch (error) {
        $("bot-status").textContent = t("offline");
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }

  async function act(path, body) {
    try {
      await postJson(path, Object.assign({ user_id: state.session.user_id }, body));
    } catch (error) {
      showToast(error.status === 409 ? t("stale") : error.message, false);
    }
  }

  async function upload(kind, file) {
    const form = new FormData();
    form.append("user_id", String(state.session.user_id));
    form.append("kind", kind);
    form.append("file", file, file.name);
    const response = await fetch("/sandbox/api/upload", { method: "POST", body: form });
    if (!response.ok) showToast((await response.json()).error || "upload failed", false);
  }

  // --- rendering ----------------------------------------------------------------------------

  function handleEvent(event) {
    const list = $("messages");
    if (event.kind === "message") {
      list.appendChild(renderMessage(event.message));
      if (event.message.from_bot) hideTyping();
      scrollToEnd();
    } else if (event.kind === "edit") {
      const existing = list.querySelector(`[data-message-id="${event.message.message_id}"]`);
      const replacement = renderMessage(event.message);
      if (existing) existing.replaceWith(replacement);
      else list.appendChild(replacement);
    } else if (event.kind === "delete") {
      const existing = list.querySelector(`[data-message-id="${event.message.message_id}"]`);
      if (existing) existing.remove();
    } else if (event.kind === "callback_answer") {
      if (event.detail.text) showToast(event.detail.text, event.detail.show_alert);
    } else if (event.kind === "chat_action") {
      showTyping();
    }
  }

  function renderMessage(message) {
    const item = element("li", message.from_bot ? "message from-bot" : "message from-user");
    item.dataset.messageId = String(message.message_id);
    const bubble = element("div", "bubble");
    if (message.photo) {
      const image = element("img", "photo");
      image.alt = t("photo");
      image.src = fileUrl(message.photo.file_id);
      bubble.appendChild(image);
    }
    if (message.document) {
      const link = element("a", "document", "📄 " + message.document.file_name);
      link.href = fileUrl(message.document.file_id);
      link.download = message.document.file_name;
      bubble.appendChild(link);
      bubble.appendChild(element("span", "document-size", " · " + formatSize(message.document.file_size)));
    }
    if (message.sticker) bubble.appendChild(element("div", "media-note", "👍 " + t("sticker")));
    if (message.voice) bubble.appendChild(element("div", "media-note", "🎤 " + t("voice")));
    if (message.location) {
      const where = message.location.latitude.toFixed(4) + ", " + message.location.longitude.toFixed(4);
      bubble.appendChild(element("div", "media-note", "📍 " + t("location") + " " + where));
    }
    if (message.contact) {
      bubble.appendChild(element("div", "media-note", "📱 " + t("contact") + " " + message.contact.phone_number));
    }
    if (message.text) {
      const text = element("div", "text");
      text.appendChild(renderEntities(message.text, message.entities || []));
      bubble.appendChild(text);
    }
    if (message.edited) bubble.appendChild(element("span", "edited", t("edited")));
    item.appendChild(bubble);
    if (message.inline_keyboard && message.inline_keyboard.length) {
      item.appendChild(renderInlineKeyboard(message));
    }
    return item;
  }

  function renderInlineKeyboard(message) {
    const keyboard = element("div", "inline-keyboard");
    for (const row of message.inline_keyboard) {
      const line = element("div", "keyboard-row");
      for (const button of row) {
        const url = safeUrl(button.url);
        if (url) {
          const link = element("a", "inline-button", button.text + " ↗");
          link.href = url;
          link.target = "_blank";
          link.rel = "noopener noreferrer";
          line.appendChild(link);
          continue;
        }
        const press = element("button", "inline-button", button.text);
        press.type = "button";
        press.disabled = !button.callback_data;
        press.addEventListener("click", () =>
          act("/sandbox/api/press", { message_id: message.message_id, callback_data: button.callback_data }),
        );
        line.appendChild(press);
      }
      keyboard.appendChild(line);
    }
    return keyboard;
  }

  // Entities use UTF-16 offsets, which is exactly how JavaScript strings index.
  function renderEntities(text, entities) {
    const fragment = document.createDocumentFragment();
    const cuts = new Set([0, text.length]);
    for (const entity of entities) {
      cuts.add(entity.offset);
      cuts.add(entity.offset + entity.length);
    }
    const points = [...cuts].filter((p) => p >= 0 && p <= text.length).sort((a, b) => a - b);
    for (let i = 0; i + 1 < points.length; i += 1) {
      const start = points[i];
      const end = points[i + 1];
      let node = document.createTextNode(text.slice(start, end));
      for (const entity of entities) {
        if (entity.offset <= start && entity.offset + entity.length >= end) {
          node = wrapEntity(node, entity);
        }
      }
      fragment.appendChild(node);
    }
    return fragment;
  }

  function wrapEntity(node, entity) {
    const tag = ENTITY_TAGS[entity.type];
    if (!tag) return node;
    const wrapper = document.createElement(tag);
    if (entity.type === "spoiler") {
      wrapper.className = "spoiler";
      wrapper.addEventListener("click", () => wrapper.classList.add("revealed"));
    }
    if (tag === "a") {
      const url = safeUrl(entity.type === "url" ? node.textContent : entity.url);
      if (!url) return node;
      wrapper.href = url;
      wrapper.target = "_blank";
      wrapper.rel = "noopener noreferrer";
    }
    wrapper.appendChild(node);
    return wrapper;
  }

  function renderReplyKeyboard(keyboard) {
    const area = $("reply-keyboard");
    area.replaceChildren();
    area.hidden = !keyboard;
    if (!keyboard) return;
    for (const row of keyboard.rows) {
      const line = element("div", "keyboard-row");
      for (const key of row) {
        const button = element("button", key.request_contact ? "reply-button contact" : "reply-button", key.text);
        button.type = "button";
        button.addEventListener("click", () => {
          if (key.request_contact) act("/sandbox/api/contact", {});
          else act("/sandbox/api/send", { text: key.text });
        });
        line.appendChild(button);
      }
      area.appendChild(line);
    }
    if (keyboard.placeholder) $("text").placeholder = keyboard.placeholder;
  }

  function fileUrl(fileId) {
    return "/sandbox/api/files/" + encodeURIComponent(fileId) + "?user_id=" + state.session.user_id;
  }

  function formatSize(bytes) {
    if (bytes >= 1048576) return (bytes / 1048576).toFixed(1) + " MB";
    if (bytes >= 1024) return Math.round(bytes / 1024) + " KB";
    return bytes + " B";
  }

  function scrollToEnd() {
    const list = $("messages");
    list.scrollTop = list.scrollHeight;
  }

  function showTyping() {
    $("typing").hidden = false;
    clearTimeout(state.typingTimer);
    state.typingTimer = setTimeout(hideTyping, 5000);
  }

  function hideTyping() {
    $("typing").hidden = true;
    clearTimeout(state.typingTimer);
  }

  function showToast(text, alert) {
    const toast = $("toast");
    toast.textContent = text;
    toast.classList.toggle("alert", Boolean(alert));
    toast.hidden = false;
    clearTimeout(state.toastTimer);
    state.toastTimer = setTimeout(() => { toast.hidden = true; }, alert ? 6000 : 3000);
  }

  function updateStartButton() {
    $("start-button").hidden = $("messages").children.length > 0;
  }

  function showSetup() {
    const session = state.session || {};
    $("setup-name").value = session.first_name || "";
    $("setup-language").value = session.language_code === "zh-hans" ? "zh-hans" : "en";
    if (session.phone_number) $("setup-phone").value = session.phone_number;
    $("setup").hidden = false;
    $("chat").hidden = true;
    $("setup-name").focus();
  }

  // --- wiring -------------------------------------------------------------------------------

  function wire() {
    $("setup-language").addEventListener("change", (event) => {
      state.session = Object.assign({}, state.session || {}, { language_code: event.target.value });
      applyLanguage();
    });
    $("setup-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const previous = state.session && state.session.user_id ? { user_id: state.session.user_id } : {};
      startSession(Object.assign(previous, {
        first_name: $("setup-name").value,
        language_code: $("setup-language").value,
        phone_number: $("setup-phone").value,
      })).catch((error) => showToast(error.message, true));
    });
    $("settings-button").addEventListener("click", showSetup);
    $("start-button").addEventListener("click", () => act("/sandbox/api/send", { text: "/start" }));
    $("composer").addEventListener("submit", (event) => {
      event.preventDefault();
      const box = $("text");
      const text = box.value;
      if (!text.trim()) return;
      box.value = "";
      act("/sandbox/api/send", { text });
    });
    $("text").addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        $("composer").requestSubmit();
      }
    });
    $("file-input").addEventListener("change", (event) => {
      const file = event.target.files[0];
      if (file) upload("document", file);
      event.target.value = "";
    });
    $("photo-input").addEventListener("change", (event) => {
      const file = event.target.files[0];
      if (file) upload("photo", file);
      event.target.value = "";
    });
  }

  function boot() {
    wire();
    let saved = null;
    try {
      saved = JSON.parse(localStorage.getItem(STORAGE_KEY) || "null");
    } catch (error) {
      saved = null;
    }
    if (saved && saved.user_id) {
      startSession(saved).catch(() => showSetup());
    } else {
      applyLanguage();
      showSetup();
    }
  }

  document.addEventListener("DOMContentLoaded", boot);
})();
