/** Public API of host facts: gather (one read-only round trip), pure parsers, helpers, Pi cmdline rule. */
export type { Facts, NetInterface, RaspberryPiFacts } from './types.js';
export { gatherFacts, type GatherOptions } from './gather.js';
export { FACTS_SCRIPT, FACT_SECTIONS, type FactSection } from './script.js';
export {
  FactsError,
  archFromDpkg,
  archFromUname,
  isRaspberryPiModel,
  parseCgroup,
  parseFacts,
  resolveArch,
  splitSections,
} from './parse.js';
export { describeFacts, interfaceFor } from './describe.js';
export { MEMORY_CGROUP_ARGS, cmdlineHasMemoryCgroup, planCmdline, type CmdlinePlan } from './raspberry-pi.js';
