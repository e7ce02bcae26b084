// Formatting shared by the audit and sessions pages (local time, UTC on hover).

const pad = (n) => String(n).padStart(2, "0");
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

function clock(date) {
  const hours = date.getHours() % 12 || 12;
  return { hours, minutes: pad(date.getMinutes()), seconds: pad(date.getSeconds()), ampm: date.getHours() < 12 ? "AM" : "PM" };
}

// `h:mm:ss a` today, else `MMM dd h:mm a` (SPEC 11.4).
export function formatEventTime(iso, now = new Date()) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  const c = clock(date);
  const today = date.getFullYear() === now.getFullYear() && date.getMonth() === now.getMonth() && date.getDate() === now.getDate();
  if (today) return `${c.hours}:${c.minutes}:${c.seconds} ${c.ampm}`;
  return `${MONTHS[date.getMonth()]} ${pad(date.getDate())} ${c.hours}:${c.minutes} ${c.ampm}`;
}

export function formatDateTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "-";
  const c = clock(date);
  return `${MONTHS[date.getMonth()]} ${pad(date.getDate())}, ${date.getFullYear()} ${c.hours}:${c.minutes} ${c.ampm}`;
}

export function utcTitle(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : `${date.toISOString().replace("T", " ").replace(/\.\d+Z$/, "")} UTC`;
}

export function shortId(id) {
  const text = String(id ?? "");
  return text.length > 10 ? `${text.slice(0, 8)}…` : text;
}

// A readable device label from a user agent string; never shown as the only info.
export function describeAgent(ua) {
  if (!ua) return "Unknown device";
  const browser = /Edg\//.test(ua) ? "Edge" : /Firefox\//.test(ua) ? "Firefox" : /Chrom(e|ium)\//.test(ua) ? "Chrome"
    : /Safari\//.test(ua) ? "Safari" : /python-httpx|curl|node/i.test(ua) ? "Script" : "Browser";
  const os = /iPhone|iPad/.test(ua) ? "iOS" : /Windows/.test(ua) ? "Windows" : /Mac OS X/.test(ua) ? "macOS"
    : /Android/.test(ua) ? "Android" : /Linux/.test(ua) ? "Linux" : "";
  return os ? `${browser} on ${os}` : browser;
}
