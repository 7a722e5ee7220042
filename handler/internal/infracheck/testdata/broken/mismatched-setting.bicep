// The sweep schedule is misspelt: config reads TIDEWATCH_SWEEP_SCHEDULE.
var tidewatchSettings = {
  TIDEWATCH_SWEEP_SCHEDUEL: '0 0 */6 * * *'
}
