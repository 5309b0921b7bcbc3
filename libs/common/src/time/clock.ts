import { Injectable } from '@nestjs/common';

/** The current time, injectable so tests can control year boundaries and tolerances. */
@Injectable()
export class Clock {
  now(): Date {
    return new Date();
  }

  nowSeconds(): number {
    return Math.floor(this.now().getTime() / 1000);
  }
}
