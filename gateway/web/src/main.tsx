/** The operators' dashboard of the bwc-companion gateway (gateway/web/README.md). */
import { render } from 'preact';
import { App } from './app.js';

const root = document.getElementById('app');
if (!root) throw new Error('index.html has no #app element');
root.replaceChildren();
render(<App />, root);
