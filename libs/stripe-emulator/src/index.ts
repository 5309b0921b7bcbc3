export { StripeEmulator, type StripeEmulatorOptions } from './emulator';
export type { EmulatorLogger } from './logger';
export type { DeliveryRecord, DeliveryStatus } from './webhook-delivery';
export { signPayload } from './webhook-delivery';
export { TEST_CARDS } from './test-cards';
