// Sign-in: posts the form as JSON, keeps the CSRF token for the dashboard (which sends it
// as X-CSRF-Token on every change) and goes to the dashboard. Without script the form
// posts itself and the server redirects. No third-party code, no inline script.
"use strict";

(function () {
  const form = document.getElementById("login");
  const error = document.getElementById("error");
  if (!form) {
    return;
  }
  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    error.hidden = true;
    const button = form.querySelector("button");
    button.disabled = true;
    const body = {
      username: form.elements.username.value,
      password: form.elements.password.value,
      code: form.elements.code.value.trim(),
    };
    try {
      const response = await fetch("/admin/login", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      if (response.ok) {
        const data = await response.json();
        sessionStorage.setItem("rampart.csrf", data.csrf_token);
        window.location.assign("/dashboard");
        return;
      }
    } catch (e) {
      // Network failure: the same message, the server said nothing more either.
    }
    form.elements.password.value = "";
    form.elements.code.value = "";
    error.hidden = false;
    button.disabled = false;
  });
})();
