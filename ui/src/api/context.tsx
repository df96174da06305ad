import { createContext, useContext } from 'react';
import { ApiClient } from './client';

export const ClientContext = createContext<ApiClient | null>(null);

/** useClient is the API client of the page. */
export function useClient(): ApiClient {
  const c = useContext(ClientContext);
  if (!c) throw new Error('no ApiClient: wrap the page in ClientContext');
  return c;
}
