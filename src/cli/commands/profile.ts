// The profile command: the built-in check profile as shipped (YAML with its comments),
// to copy, edit for a customer and pass back with --profile.
import { assetText } from '../../assets.ts';
import type { Command } from '../args.ts';

export const profileCommand: Command = {
  name: 'profile',
  summary: 'print the built-in check profile (YAML) to copy and edit',
  usage: `Usage: astrago-check profile

Prints the built-in check profile (checks/default.yaml, with its comments):
thresholds per role, supported OS, kernel modules and sysctls, and the
checklist items. Edit a copy and run with --profile FILE.

Example:
  astrago-check profile > my-profile.yaml
  astrago-check --profile my-profile.yaml`,
  options: {},
  async run(_values, _positionals, io) {
    io.stdout.write(assetText('checks/default.yaml'));
    return 0;
  },
};
