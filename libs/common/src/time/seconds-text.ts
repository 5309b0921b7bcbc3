/** Formats a whole number of seconds for a message: "1 second", "30 seconds". */
export function secondsText(seconds: number): string {
  return seconds === 1 ? '1 second' : `${seconds} seconds`;
}

/**
 * Formats a wait or a window of whole seconds for a message. Below 2 minutes it
 * counts seconds ("45 seconds", "90 seconds"), except a whole minute reads
 * "1 minute". From 2 minutes on it counts minutes ("15 minutes"), and from
 * 1 hour on hours and minutes ("1 hour and 30 minutes"). Minutes are rounded
 * up, so a client that waits as long as the text states is not turned away.
 * Retry-After headers carry the seconds themselves.
 */
export function durationText(seconds: number): string {
  if (seconds < 60 || (seconds < 120 && seconds !== 60)) {
    return secondsText(seconds);
  }

  const totalMinutes = Math.ceil(seconds / 60);
  if (totalMinutes < 60) {
    return countText(totalMinutes, 'minute');
  }

  const hours = Math.floor(totalMinutes / 60);
  const minutes = totalMinutes % 60;

  return minutes === 0 ? countText(hours, 'hour') : `${countText(hours, 'hour')} and ${countText(minutes, 'minute')}`;
}

function countText(count: number, unit: string): string {
  return count === 1 ? `1 ${unit}` : `${count} ${unit}s`;
}
