// DOM helpers shared by the admin pages. API data is always written as text
// (textContent, attributes), never parsed as HTML.

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Icon paths on a 16×16 grid, drawn with the current text colour. */
const ICON_PATHS = {
  check: 'M3 8.5l3 3 7-7',
  cross: 'M4 4l8 8M12 4l-8 8',
  circle: 'M8 2.5a5.5 5.5 0 1 0 0 11a5.5 5.5 0 1 0 0-11z',
  alert: 'M8 2.5l6 11H2z M8 6.5v3.5 M8 11.75v0.5',
  clock: 'M8 2.5a5.5 5.5 0 1 0 0 11a5.5 5.5 0 1 0 0-11z M8 5v3.5l2 1.5',
  flask: 'M6 2h4 M6.5 2v4L3 13h10L9.5 6V2',
  arrow: 'M3 8h10M9 4l4 4-4 4',
};

/** Return the element with this id, or throw when the page lacks it. */
export function byId(id) {
  const element = document.getElementById(id);
  if (!element) {
    throw new Error(`The page has no element with id "${id}".`);
  }

  return element;
}

/**
 * Create an element. `attributes` are set with setAttribute, except `text`
 * (textContent), `className` and boolean `hidden`; children are nodes or strings.
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) {
      continue;
    }

    if (name === 'text') {
      element.textContent = String(value);
    } else if (name === 'className') {
      element.className = value;
    } else if (name === 'hidden') {
      element.hidden = true;
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
  element.append(...children.filter((child) => child !== null && child !== undefined));

  return element;
}

/** Create a decorative icon, hidden from assistive technology because a word always goes with it. */
export function icon(name) {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 16 16');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  const path = document.createElementNS(SVG_NS, 'path');
  path.setAttribute('d', ICON_PATHS[name] ?? ICON_PATHS.circle);
  path.setAttribute('fill', 'none');
  path.setAttribute('stroke', 'currentColor');
  path.setAttribute('stroke-width', '1.75');
  path.setAttribute('stroke-linecap', 'round');
  path.setAttribute('stroke-linejoin', 'round');
  svg.append(path);

  return svg;
}

/**
 * Create a badge: an icon and a word, coloured by `tone` (success, neutral,
 * danger, warning or info).
 */
export function badge(label, tone, iconName) {
  return h('span', { className: `badge badge-${tone}` }, icon(iconName), h('span', { text: label }));
}

/** Create a <time> element showing `text` for the machine-readable `iso` value. */
export function timeElement(iso, text) {
  return h('time', { datetime: iso, text });
}

/**
 * Disable a button while its request runs, with a busy label, and restore it
 * afterwards. A button that had focus gets it back, because a browser may move
 * focus off a disabled control, unless the work moved focus elsewhere.
 */
export async function whileBusy(button, busyLabel, work) {
  const label = button.textContent;
  const hadFocus = document.activeElement === button;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  button.textContent = busyLabel;
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
    button.textContent = label;
    const focusLost = document.activeElement === null || document.activeElement === document.body;
    if (hadFocus && focusLost && button.isConnected) {
      button.focus();
    }
  }
}
