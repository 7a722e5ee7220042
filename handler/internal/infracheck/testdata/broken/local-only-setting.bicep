// TIDEWATCH_STORAGE is the connection-string form; Azure uses the identity-based form.
var tidewatchSettings = {
  TIDEWATCH_STORAGE: 'DefaultEndpointsProtocol=https;AccountName=st'
}
