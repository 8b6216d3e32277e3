import { createApp } from './doh/app';

/** The Cloudflare Workers entry point. */
export default createApp();
