import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/index.js';
import { listenOptionsFromEnvironment } from '../../src/server/listen-environment.js';

describe('listenOptionsFromEnvironment', () => {
  it('defaults to port 4000 on 127.0.0.1 (this machine only)', () => {
    expect(listenOptionsFromEnvironment({})).toEqual({ port: 4000, host: '127.0.0.1' });
    // An empty value is unset, as `PORT=` in an env file means.
    expect(listenOptionsFromEnvironment({ PORT: '', HOST: '' })).toEqual({ port: 4000, host: '127.0.0.1' });
  });

  it('takes PORT and HOST', () => {
    expect(listenOptionsFromEnvironment({ PORT: '8080', HOST: '0.0.0.0' })).toEqual({ port: 8080, host: '0.0.0.0' });
    expect(listenOptionsFromEnvironment({ PORT: '0', HOST: '::' })).toEqual({ port: 0, host: '::' });
    expect(listenOptionsFromEnvironment({ PORT: '65535', HOST: 'api.internal' })).toEqual({ port: 65535, host: 'api.internal' });
  });

  it.each(['abc', '70000', '65536', '-1', '80.5', ' 80', '1e3'])('refuses PORT=%j with a ValidationError naming PORT', (port) => {
    expect(() => listenOptionsFromEnvironment({ PORT: port })).toThrow(ValidationError);
    expect(() => listenOptionsFromEnvironment({ PORT: port })).toThrow(
      expect.objectContaining({ code: 'ANNALS_VALIDATION', field: 'PORT', message: 'PORT: must be a port number from 0 to 65535' }),
    );
  });

  it.each(['http://localhost', 'local host', 'example.com/api'])('refuses HOST=%j with a ValidationError naming HOST', (host) => {
    expect(() => listenOptionsFromEnvironment({ HOST: host })).toThrow(expect.objectContaining({ code: 'ANNALS_VALIDATION', field: 'HOST' }));
  });

  it('names both when both are wrong', () => {
    try {
      listenOptionsFromEnvironment({ PORT: 'abc', HOST: 'a b' });
      expect.unreachable();
    } catch (error) {
      expect((error as ValidationError).issues.map((issue) => issue.field)).toEqual(['PORT', 'HOST']);
    }
  });
});
