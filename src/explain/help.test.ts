import { describe, expect, it } from 'vitest';
import { PANEL_HELP } from './help';
import { HELP_TITLES } from './helpTitles';

describe('panel help', () => {
  it('HELP_TITLES (loaded with the page) names exactly the panels help.ts (loaded on demand) explains', () => {
    expect([...HELP_TITLES].sort()).toEqual(Object.keys(PANEL_HELP).sort());
  });
});
