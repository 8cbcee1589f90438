// How to reach one registry, as the registry client takes it (the bundle
// spec's registries[] entries and the site file's registry give these fields;
// schema/ validates them, this module only names them).
export interface RegistrySettings {
  /** host[:port] as in image references (docker.io for Docker Hub) */
  host: string;
  caFile?: string;
  insecure?: boolean;
  username?: string;
  passwordEnv?: string;
  passwordFile?: string;
}
