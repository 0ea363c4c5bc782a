// Types for undici's Pool module, imported on its own (see caller.ts). Only
// what that module has: the index adds request()/stream()/… to every
// dispatcher, and this import does not load the index. The module path is
// undici's own layout, so package.json pins undici to 7.30.x.
declare module 'undici/lib/dispatcher/pool.js' {
  import type { Dispatcher, Pool } from 'undici';
  export interface PoolModule {
    dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean;
    close(): Promise<void>;
    destroy(err?: Error | null): Promise<void>;
  }
  const PoolClass: new (url: string | URL, options?: Pool.Options) => PoolModule;
  export default PoolClass;
}
