/** Which halves of the application a process runs (`APP_ROLE=api|worker|all`). */
export interface AppRoles {
  api: boolean;
  worker: boolean;
}

export type AppRoleName = 'api' | 'worker' | 'all';

export function rolesFor(role: AppRoleName): AppRoles {
  return { api: role === 'api' || role === 'all', worker: role === 'worker' || role === 'all' };
}
