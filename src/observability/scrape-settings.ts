/**
 * A scrape reuses values loaded less than this long ago, so several
 * Prometheus servers or a short scrape interval do not multiply the queries.
 */
export const SCRAPE_CACHE_TTL_MS = 5_000;

/**
 * Each source must load within this time. Prometheus' default scrape
 * timeout is 10 s, and a slow source must not make the whole scrape fail.
 */
export const SCRAPE_TIMEOUT_MS = 2_000;
