# Verifies one token twice with Debian's ruby-recaptcha (the recaptcha gem, as a Rails
# controller uses it) and prints JSON: both verdicts and the codes of a third answer.
# Usage: ruby verify.rb VERIFY_URL SITEKEY SECRET TOKEN
require 'json'
require 'recaptcha'

verify_url, sitekey, secret, token = ARGV
Recaptcha.configure do |config|
  config.site_key = sitekey
  config.secret_key = secret
  config.verify_url = verify_url # the gem's own setting
end

# What a controller gives Recaptcha::Verify: params, request, flash.
class Controller
  include Recaptcha::Verify
  attr_reader :params, :request, :flash

  def initialize(token)
    @params = { 'g-recaptcha-response' => token }
    @request = Struct.new(:remote_ip).new('203.0.113.9')
    @flash = {}
  end
end

first = Controller.new(token).verify_recaptcha
second = Controller.new(token).verify_recaptcha
reply = JSON.parse(Recaptcha.get({ 'secret' => secret, 'response' => token }, {}))
puts JSON.generate(first: first, second: second, codes: reply['error-codes'] || [])
