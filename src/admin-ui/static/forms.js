// Showing API errors on forms. Each input named like an API field has an
// error element whose id is the input's id plus "-error", and the input's
// aria-describedby names that element, so a screen reader reads the error with
// the field.

/** Return the error element of an input. */
function errorElementOf(input) {
  return document.getElementById(`${input.id}-error`);
}

/** Remove every field error and the form-level message. */
export function clearFormErrors(form, formError) {
  for (const input of form.querySelectorAll('input, select, textarea')) {
    input.removeAttribute('aria-invalid');
    const element = errorElementOf(input);
    if (element) {
      element.textContent = '';
    }
  }
  formError.textContent = '';
}

/**
 * Show an ApiError on a form: each `errors[].field` message beside its input,
 * the problem's detail next to the form's submit button. Returns the first
 * input that has an error, to move focus to, or null.
 */
export function showFormErrors(form, error, formError) {
  let firstInvalid = null;
  for (const { field, message } of error.errors ?? []) {
    const input = form.elements.namedItem(field);
    const element = input instanceof HTMLElement ? errorElementOf(input) : null;
    if (!element) {
      continue;
    }

    input.setAttribute('aria-invalid', 'true');
    element.textContent = element.textContent ? `${element.textContent} ${message}` : message;
    firstInvalid ??= input;
  }
  formError.textContent = error.message;

  return firstInvalid;
}

/**
 * Empty every password input of the form. Called right after each submit,
 * whatever the response, so a secret key stays in the page only while it is typed.
 */
export function clearSecretInputs(form) {
  for (const input of form.querySelectorAll('input[type="password"]')) {
    input.value = '';
  }
}

/** Read the named inputs of a form into an object, as typed: the API trims the fields it should. */
export function readForm(form) {
  const values = {};
  for (const input of form.querySelectorAll('input[name]')) {
    values[input.name] = input.value;
  }

  return values;
}
